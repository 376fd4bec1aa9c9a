package xrtc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"xccrtc/verto"
)

// Call recovery after a restart of the switch (FreeSWITCH: `fsctl recover`,
// mod_verto's verto_recover_callback and verto_on_init). The switch keeps
// the answered calls' data (FreeSWITCH: the recovery table) and, after a
// restart, brings each call back and hands it to the endpoint
// (RecoverCall). The call waits as a detached one would (detach-timeout-sec,
// then RECOVERY_ON_TIMER_EXPIRE). When the switch starts it (ChannelInit, on
// the channel's own thread) the endpoint makes a new offer and sends it to
// the call's client with verto.attach, which the client answers with
// verto.attach as after a page reload; mod_verto's thread waits for that
// answer up to 5 s before the call runs on, and so does ChannelInit.
//
// The node knows the call's sessid, not where its socket lives now: the
// XCtrl that held it may be gone and the browser logged in elsewhere. So the
// verto.attach goes as a request to the profile's xrtc-ctrl-subject (any
// XCtrl), which finds the socket (its own or the owner the registry names)
// and answers SENT, or SESSION NOT FOUND; then the node tries again every
// RecoverRetry until the detach timeout ends the call. A login of the sessid
// meanwhile (xrtc.login) re-offers the call as for any detached call.

// RecoveredCall is a call the switch brought back after a restart, from its
// recovery data (FreeSWITCH: the channel variables mod_xrtc sets on every
// call, kept in the recovery table).
type RecoveredCall struct {
	UUID        string
	Direction   Direction     // inbound: a client's call; outbound: a call to a user
	Profile     string        // verto_profile_name
	Sessid      string        // jsock_uuid_str: the client's socket
	CtrlUUID    string        // xrtc_ctrl_uuid: the XCtrl that held it
	Login       string        // verto_user
	Destination string        // the call's destination, as `xrtc calls` shows it
	Caller      CallerProfile // caller and callee ids
}

// recovery is what a recovered call keeps until its client answers.
type recovery struct {
	answered chan struct{} // closed when the client answered the attach
	sdp      string
	retry    Timer
	tries    int
}

// recoverWait is how long the switch's thread waits for the client's answer
// (mod_verto: 500 x 10 ms), and recoverRetry the pause between attempts to
// find the client's socket (mod_verto: 1 s, 120 tries).
const (
	recoverWait  = 5 * time.Second
	recoverRetry = 2 * time.Second
)

// RecoverCall takes back a call the switch recovered after a restart. ch is
// the call's channel. The call waits, detached, for ChannelInit. An error
// means the endpoint cannot take it (no such profile, no client socket
// known, the endpoint stopped or the UUID in use); the switch should hang
// it up.
func (e *Endpoint) RecoverCall(rc RecoveredCall, ch Channel) (err error) {
	defer func() {
		if v := recover(); v != nil {
			e.stats.panics.Add(1)
			e.log.Error("xrtc: recovered panic in RecoverCall", "panic", fmt.Sprint(v))
			err = fmt.Errorf("xrtc: panic: %v", v)
		}
	}()
	e.mu.Lock()
	up := e.running && !e.stopped
	e.mu.Unlock()
	switch {
	case !up:
		return ErrStopped
	case ch == nil || rc.UUID == "":
		return errors.New("xrtc: recover: no channel")
	case rc.Sessid == "":
		return errors.New("xrtc: recover: the call has no client socket (jsock_uuid_str)")
	}
	if err := verto.CheckSessid(rc.Sessid); err != nil {
		return err
	}
	if rc.CtrlUUID != "" && verto.CheckCtrlRef(rc.CtrlUUID) != nil {
		rc.CtrlUUID = ""
	}
	prof, ok := e.Profile(rc.Profile)
	if !ok {
		return fmt.Errorf("xrtc: recover: no profile %q", rc.Profile)
	}
	c := &Call{
		id: rc.UUID, dir: rc.Direction, profile: prof, created: e.clock.Now(), state: StateDetached,
		ch: ch, sessid: rc.Sessid, ctrlUUID: rc.CtrlUUID, dest: rc.Destination, caller: rc.Caller,
		user: &verto.User{Login: rc.Login}, quiet: true, answeredAt: e.clock.Now(),
		rec: &recovery{answered: make(chan struct{})},
	}
	if !e.register(c) {
		return fmt.Errorf("xrtc: recover: call %s exists (or the endpoint stopped)", rc.UUID)
	}
	c.mu.Lock()
	e.armDetachTimerLocked(c)
	c.mu.Unlock()
	e.ev.touch(rc.Sessid, rc.CtrlUUID, nil)
	e.log.Info("xrtc: call recovered", "call_id", c.id, "direction", c.dir.String(), "sessid", rc.Sessid, "ctrl_uuid", rc.CtrlUUID)
	return nil
}

// recoverInit runs on the recovered call's thread when the switch starts it
// (ChannelInit): the offer, its first delivery, and a wait of up to
// recoverWait for the client's answer.
func (e *Endpoint) recoverInit(c *Call) {
	sdp, err := e.offer(c)
	if err != nil {
		e.log.Warn("xrtc: no offer for a recovered call", "call_id", c.id, "err", err)
		e.runCall(c, "no offer", func() { e.endCall(c, CauseOf(err), true, false) })
		return
	}
	c.mu.Lock()
	rec := c.rec
	if rec == nil {
		c.mu.Unlock()
		return
	}
	rec.sdp = sdp
	c.mu.Unlock()
	e.runCall(c, "recover attach", func() { e.recoverAttach(c) })
	wait := make(chan struct{})
	t := e.after(recoverWait, "recover wait", func() { close(wait) })
	defer t.Stop()
	select {
	case <-rec.answered:
	case <-wait:
		e.log.Info("xrtc: recovered call not re-attached yet; it runs on, waiting", "call_id", c.id)
	case <-e.ctx.Done():
	}
}

// recoverAttach sends the recovered call's offer to its client, on the
// call's queue, unless the call was re-attached or re-offered meanwhile.
func (e *Endpoint) recoverAttach(c *Call) {
	c.mu.Lock()
	rec := c.rec
	if rec == nil || c.state != StateDetached || c.attachWanted {
		c.mu.Unlock()
		return
	}
	rec.tries++
	sessid, subject := c.sessid, e.config().ctrlSubject(c.profile)
	c.mu.Unlock()
	params, extra := e.attachParams(c, rec.sdp)
	params.CallID, params.NodeUUID, params.Sessid = c.id, e.nodeUUID, sessid
	raw, err := withFields(params, extra)
	var data []byte
	if err == nil {
		var m *verto.Message
		if m, err = verto.NewRequest(e.nextID(), verto.MethodAttach, raw); err == nil {
			data, err = m.Marshal()
		}
	}
	if err != nil {
		e.log.Error("xrtc: recovered call: cannot build verto.attach", "call_id", c.id, "err", err)
		return
	}
	e.spawn("recover attach", func() {
		ctx, cancel := context.WithTimeout(e.ctx, e.opts.InviteTimeout)
		reply, err := e.bus.Request(ctx, subject, data)
		cancel()
		e.runCall(c, "recover attach reply", func() { e.recoverReply(c, reply, err) })
	})
}

// recoverReply takes XCtrl's answer to a recovered call's verto.attach: the
// client has the offer (its answer completes the attach), or the socket was
// not found and the node tries again.
func (e *Endpoint) recoverReply(c *Call, data []byte, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	var res struct {
		Code     int    `json:"code"`
		CtrlUUID string `json:"ctrl_uuid"`
	}
	if err == nil {
		m, derr := verto.DecodeMessage(data, e.opts.Limits)
		switch {
		case derr != nil:
			err = derr
		case m.Error != nil:
			err = m.Error
		default:
			err = m.DecodeResult(&res)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := c.rec
	if rec == nil || c.state != StateDetached || c.attachWanted {
		return
	}
	if err == nil {
		c.attachWanted, c.quiet = true, false
		if res.CtrlUUID != "" && verto.CheckCtrlRef(res.CtrlUUID) == nil {
			c.ctrlUUID = res.CtrlUUID
		}
		e.log.Info("xrtc: recovered call offered to its client", "call_id", c.id, "sessid", c.sessid, "ctrl_uuid", c.ctrlUUID, "tries", rec.tries)
		return
	}
	if rec.tries == 1 || rec.tries%15 == 0 {
		e.log.Info("xrtc: recovered call: client socket not found yet; trying again", "call_id", c.id, "sessid", c.sessid, "tries", rec.tries, "err", err)
	}
	rec.retry = e.after(recoverRetry, "recover retry", func() { e.runCall(c, "recover attach", func() { e.recoverAttach(c) }) })
}

// recoveredAttached ends a recovered call's recovery once its client
// answered (on the call's queue, c.mu held).
func recoveredAttachedLocked(c *Call) {
	if rec := c.rec; rec != nil {
		if rec.retry != nil {
			rec.retry.Stop()
		}
		close(rec.answered)
		c.rec = nil
	}
}

// attachParams are the params of a verto.attach offer, as mod_verto's
// tech_reattach writes them: the offer, the call's identity
// (set_call_params) and its verto_svar_* variables (always an object).
func (e *Endpoint) attachParams(c *Call, sdp string) (*verto.ServerCallParams, map[string]any) {
	id := e.identity(c)
	p := &verto.ServerCallParams{SDP: sdp}
	setIdentity(p, &id)
	extra := headerFields(&id)
	if extra == nil {
		extra = map[string]any{}
	}
	vars := id.Variables
	if vars == nil {
		vars = map[string]string{}
	}
	extra["variables"] = vars
	return p, extra
}

// Profile returns the profile of that name in the configuration in force
// (a switch that sets a recovered call's media up from it).
func (e *Endpoint) Profile(name string) (*Profile, bool) {
	p, ok := e.config().Profiles[name]
	return p, ok
}
