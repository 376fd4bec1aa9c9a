package xrtc

import (
	"context"
	"sort"
	"sync"

	"xccrtc/verto"
)

// Socket loss and recovery (PROTOCOL.md 3.6, verto README "Login, detach,
// re-attach"). XCtrl tells every node when a socket closes (xrtc.detach) and
// when a socket logs in (xrtc.login). On detach, unanswered calls of that
// sessid hang up with DESTINATION_OUT_OF_ORDER and answered ones stop their
// media and wait detach-timeout-sec; on login, the sessid's answered calls
// are offered again with verto.attach (fresh ICE and DTLS) to the XCtrl that
// now holds the socket. A detached call that is not re-attached in time
// hangs up with RECOVERY_ON_TIMER_EXPIRE.

func (e *Endpoint) callsOf(sessid string) []*Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*Call
	for _, c := range e.calls {
		c.mu.Lock()
		mine := c.sessid == sessid
		c.mu.Unlock()
		if mine {
			out = append(out, c)
		}
	}
	return out
}

// login handles xrtc.login: re-offer the sessid's answered calls, then reply
// with the calls re-offered (XCtrl puts them into verto.clientReady).
func (e *Endpoint) login(r *request, p *verto.ControlParams) {
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		reattached = []string{}
	)
	for _, c := range e.callsOf(p.Sessid) {
		c := c
		c.mu.Lock()
		st, owner := c.state, c.ctrlUUID
		c.mu.Unlock()
		if st != StateDetached && owner != "" && owner == p.CtrlUUID {
			// A call the socket that just logged in placed or answered
			// itself: one XCtrl publishes in order, so the old socket's
			// xrtc.detach (same XCtrl) would have come first and detached
			// it. Its invite merely overtook this xrtc.login.
			continue
		}
		switch {
		case st.Answered():
			wg.Add(1)
			if !e.runCall(c, "reattach", func() {
				defer wg.Done()
				if e.reattach(c, p) {
					mu.Lock()
					reattached = append(reattached, c.id)
					mu.Unlock()
				}
			}) {
				wg.Done()
			}
		case st != StateHangup && c.dir == Inbound:
			// A new login means the old socket is gone: its unanswered
			// calls cannot be recovered.
			e.runCall(c, "drop unanswered", func() { e.dropUnanswered(c) })
		}
	}
	wg.Wait()
	sort.Strings(reattached)
	// A socket with no call and no subscription leaves no state here.
	e.ev.forgetIfIdle(e, p.Sessid)
	e.respond(r, verto.LoginReply{Reattached: reattached, NodeUUID: e.nodeUUID}, nil)
}

func (e *Endpoint) dropUnanswered(c *Call) {
	c.mu.Lock()
	st := c.state
	c.quiet = true
	c.mu.Unlock()
	if st != StateHangup && !st.Answered() {
		e.endCall(c, verto.CauseDestinationOutOfOrder, true, false)
	}
}

// reattach offers an answered call again to the socket that logged in.
func (e *Endpoint) reattach(c *Call, p *verto.ControlParams) bool {
	c.mu.Lock()
	ch := c.ch
	ok := c.state.Answered() && ch != nil
	c.mu.Unlock()
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.OfferTimeout)
	sdp, err := ch.Offer(ctx)
	cancel()
	if err != nil {
		e.log.Warn("xrtc: cannot re-offer detached call", "call_id", c.id, "err", err)
		c.mu.Lock()
		c.quiet = true
		c.mu.Unlock()
		e.endCall(c, verto.CauseDestinationOutOfOrder, true, false)
		return false
	}
	c.mu.Lock()
	if c.state == StateHangup {
		c.mu.Unlock()
		return false
	}
	if c.state != StateDetached {
		c.watch.stopLocked()
		_ = c.setState(StateDetached)
	}
	c.sessid = p.Sessid
	if p.CtrlUUID != "" {
		c.ctrlUUID = p.CtrlUUID
	}
	c.attachWanted = true
	c.quiet = false
	if c.detachTimer == nil {
		e.armDetachTimerLocked(c)
	}
	params := &verto.ServerCallParams{
		SDP:              sdp,
		CallerIDName:     c.caller.CallerIDName,
		CallerIDNumber:   c.caller.CallerIDNumber,
		CalleeIDName:     c.caller.CalleeIDName,
		CalleeIDNumber:   c.caller.CalleeIDNumber,
		DisplayDirection: c.dir.String(),
	}
	c.mu.Unlock()
	if err := e.toClient(c, verto.MethodAttach, params); err != nil {
		e.log.Warn("xrtc: verto.attach not sent", "call_id", c.id, "err", err)
		return false
	}
	e.log.Info("xrtc: call offered for re-attach", "call_id", c.id, "sessid", p.Sessid, "ctrl_uuid", p.CtrlUUID)
	return true
}

// detach handles xrtc.detach: the socket closed. Only what that XCtrl
// still holds is detached: when the sessid already logged in on another
// XCtrl (the old one learns it late, when it punts its socket), its calls
// were re-offered there and stay.
func (e *Endpoint) detach(r *request, p *verto.ControlParams) {
	for _, c := range e.callsOf(p.Sessid) {
		c := c
		e.runCall(c, "detach", func() { e.detachCall(c, p.CtrlUUID) })
	}
	e.ev.dropSocketOf(p.Sessid, p.CtrlUUID)
	e.respond(r, nodeResult{NodeUUID: e.nodeUUID}, nil)
}

func (e *Endpoint) detachCall(c *Call, ctrlUUID string) {
	c.mu.Lock()
	if ctrlUUID != "" && c.ctrlUUID != "" && c.ctrlUUID != ctrlUUID {
		c.mu.Unlock()
		return
	}
	st := c.state
	c.quiet = true // the socket is gone: a verto.bye would reach nobody
	switch {
	case st == StateHangup || st == StateDetached && !c.attachWanted:
		c.mu.Unlock()
		return
	case !st.Answered() || c.noRecover:
		c.mu.Unlock()
		e.endCall(c, verto.CauseDestinationOutOfOrder, true, false)
		return
	}
	_ = c.setState(StateDetached)
	c.watch.stopLocked()
	c.attachWanted = false
	if c.detachTimer == nil {
		e.armDetachTimerLocked(c)
	}
	ch := c.ch
	c.mu.Unlock()
	e.log.Info("xrtc: call detached", "call_id", c.id, "sessid", c.sessid)
	_ = ch.Detach()
}

func (e *Endpoint) armDetachTimerLocked(c *Call) {
	d := e.config().detachTimeout(c.profile)
	c.detachTimer = e.after(d, "detach timer", func() {
		e.runCall(c, "detach timeout", func() {
			c.mu.Lock()
			expired := c.state == StateDetached
			if expired {
				c.quiet = !c.attachWanted
			}
			c.mu.Unlock()
			if expired {
				e.log.Info("xrtc: detached call not re-attached in time", "call_id", c.id, "timeout", d.String())
				e.endCall(c, verto.CauseRecoveryOnTimerExpire, true, true)
			}
		})
	})
}
