package xrtc

import "xccrtc/verto"

// verto.attach: the client answers the offer that re-attaches a call
// (mod_verto verto__attach_func); login.go makes the offer.

// attach is the client's answer to a verto.attach offer.
func (e *Endpoint) attach(r *request, p *verto.CallParams, c *Call) {
	c.mu.Lock()
	state, ch, wanted := c.state, c.ch, c.attachWanted
	// a recovered call's offer may be answered before XCtrl's SENT is in
	recovering := c.rec != nil && c.rec.sdp != ""
	c.mu.Unlock()
	switch {
	case state == StateHangup || ch == nil:
		e.respond(r, nil, callNotExist(c.id))
		return
	case !state.Answered() || !wanted && !recovering:
		e.respond(r, nil, sessionError(msgNotAnsweredAttach, c.id))
		return
	case p.SDP == "":
		e.respond(r, nil, sessionError(verto.MsgSDPMissing, c.id))
		return
	}
	if err := setRemoteAnswer(ch, p.SDP); err != nil {
		e.respond(r, nil, sessionError(refusedSDP(err, msgCodecNegotiation), c.id))
		c.mu.Lock()
		c.quiet = true
		c.mu.Unlock()
		e.endCall(c, CauseOf(err), true, false)
		return
	}
	c.mu.Lock()
	c.attachWanted = false
	if c.detachTimer != nil {
		c.detachTimer.Stop()
		c.detachTimer = nil
	}
	if c.held {
		e.moveLocked(c, StateHeld)
	} else {
		e.moveLocked(c, StateActive)
	}
	if p.Sessid != "" {
		c.sessid = p.Sessid
	}
	if p.CtrlUUID != "" {
		c.ctrlUUID = p.CtrlUUID
	}
	c.quiet = false
	recoveredAttachedLocked(c)
	c.mu.Unlock()
	e.log.Info("xrtc: call re-attached", "call_id", c.id, "sessid", p.Sessid, "ctrl_uuid", p.CtrlUUID)
	e.startMediaWatch(c)
	e.respond(r, withEcho(nodeResult{NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
}
