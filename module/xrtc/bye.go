package xrtc

import (
	"xccrtc/verto"
)

// verto.bye: the client ends a call (mod_verto verto__bye_func).

func (e *Endpoint) bye(r *request, p *verto.CallParams, c *Call) {
	cause := verto.CauseNormalClearing
	if p.Cause != "" {
		if cc, ok := verto.ParseCause(p.Cause); ok && cc != verto.CauseNone {
			cause = cc
		}
	} else if n, ok := p.CauseCode.Int(); ok && verto.Cause(n).Known() && n != 0 {
		cause = verto.Cause(n)
	}
	c.mu.Lock()
	state := c.state
	// A declined call to a user: the other ringing XCtrls must stop ringing,
	// so only an answered call stays quiet.
	c.quiet = c.dir == Inbound || state.Answered()
	c.mu.Unlock()
	if state == StateHangup {
		e.respond(r, nil, callNotExist(c.id))
		return
	}
	e.endCall(c, cause, true, true)
	e.respond(r, withEcho(byeResult{ByeResult: verto.ByeResult{CallID: c.id, Message: "CALL ENDED", Cause: cause.String(), CauseCode: int(cause)}, NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
}
