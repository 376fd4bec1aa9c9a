package xrtc

import "xccrtc/verto"

// xrtc.detach: a socket closed (mod_verto detach_calls); see login.go.

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
	e.updateEventWants()
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
	e.moveLocked(c, StateDetached)
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
