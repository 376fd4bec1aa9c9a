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

// xrtc.login: a socket logged in; its detached calls are offered again.

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
		// Decided on the call's queue: an xrtc.detach of the same sessid
		// handled just before this login (same socket queue) queued the
		// call's detach there, and it must have run first.
		wg.Add(1)
		if !e.runCall(c, "login", func() {
			defer wg.Done()
			if e.loginCall(c, p) {
				mu.Lock()
				reattached = append(reattached, c.id)
				mu.Unlock()
			}
		}) {
			wg.Done()
		}
	}
	wg.Wait()
	sort.Strings(reattached)
	// A socket with no call and no subscription leaves no state here.
	e.ev.forgetIfIdle(e, p.Sessid)
	e.respond(r, verto.LoginReply{Reattached: reattached, NodeUUID: e.nodeUUID}, nil)
}

// loginCall deals with one call of a sessid that logged in (on the call's
// queue) and reports whether it was offered again.
func (e *Endpoint) loginCall(c *Call, p *verto.ControlParams) bool {
	c.mu.Lock()
	st, owner := c.state, c.ctrlUUID
	foreign := !c.ownerLocked(p.Sessid, p.XrtcUser)
	c.mu.Unlock()
	if foreign {
		// The sessid is the call's, the user is not: someone who learnt the
		// sessid of a socket that closed (its registry entry went with it)
		// logged in with it. The call is not offered to them (owner.go).
		e.stats.foreign.Add(1)
		e.warnQuiet("xrtc: login of another user with a call's sessid: call not re-offered", "call_id", c.id,
			"sessid", p.Sessid, "login", userLogin(p.XrtcUser))
		return false
	}
	switch {
	case st != StateDetached && owner != "" && owner == p.CtrlUUID:
		// A call the socket that just logged in placed or answered
		// itself: one XCtrl publishes in order, so the old socket's
		// xrtc.detach (same XCtrl) would have come first and detached it.
		// Its invite merely overtook this xrtc.login.
		return false
	case st.Answered():
		return e.reattach(c, p)
	case st != StateHangup && c.dir == Inbound:
		// A new login means the old socket is gone: its unanswered calls
		// cannot be recovered.
		e.dropUnanswered(c)
	}
	return false
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
		e.moveLocked(c, StateDetached)
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
	c.mu.Unlock()
	params, extra := e.attachParams(c, sdp)
	if err := e.toClientWith(c, verto.MethodAttach, params, extra); err != nil {
		e.log.Warn("xrtc: verto.attach not sent", "call_id", c.id, "err", err)
		return false
	}
	e.log.Info("xrtc: call offered for re-attach", "call_id", c.id, "sessid", p.Sessid, "ctrl_uuid", p.CtrlUUID)
	return true
}
