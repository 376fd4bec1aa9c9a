package xrtc

import (
	"errors"

	"xccrtc/verto"
)

// verto.modify: hold, transfer, replace, videoRefresh and updateMedia on a
// call (mod_verto verto__modify_func).

func (e *Endpoint) modify(r *request, p *verto.CallParams, c *Call) {
	if p.Action == "" {
		e.respond(r, nil, sessionError(msgActionMissing, c.id))
		return
	}
	c.mu.Lock()
	state, ch := c.state, c.ch
	c.mu.Unlock()
	if state == StateHangup || ch == nil {
		e.respond(r, nil, callNotExist(c.id))
		return
	}
	res := modifyResult{ModifyResult: verto.ModifyResult{CallID: c.id, Action: p.Action}, NodeUUID: e.nodeUUID}
	fail := func(msg string) { e.respond(r, nil, sessionError(msg, c.id).With("action", p.Action)) }
	switch p.Action {
	case verto.ActionHold, verto.ActionUnhold, verto.ActionToggleHold:
		e.hold(c, ch, p.Action, state)
	case verto.ActionTransfer:
		if p.Destination == "" {
			fail(msgDestMissing)
			return
		}
		// The partner's new destination_number, which FreeSWITCH does
		// not clean as it cleans an invite's (XCtrl bounds it too;
		// another controller may not).
		if err := verto.CheckDest("destination", p.Destination); err != nil {
			e.refuseBadInput(r, err)
			return
		}
		if err := ch.Transfer(p.Destination, "", ""); err != nil {
			if errors.Is(err, ErrNotBridged) {
				fail(msgNotBridged)
			} else {
				fail(msgTransferFailed)
			}
			return
		}
		res.Message = "CALL TRANSFERRED"
	case verto.ActionReplace:
		if msg := e.replace(c, ch, p); msg != "" {
			fail(msg)
			return
		}
	case verto.ActionVideoRefresh:
		_ = ch.RefreshVideo()
	case verto.ActionUpdateMedia:
		if p.SDP == "" {
			fail(verto.MsgSDPMissing)
			return
		}
		if !state.Answered() {
			fail(msgNotAnswered)
			return
		}
		ans, err := renegotiate(ch, p.SDP)
		if err != nil {
			fail(msgCodecError)
			return
		}
		res.SDP = ans
	}
	// As mod_verto: whatever the action, the hold state the switch has
	// now (CF_PROTO_HOLD).
	res.HoldState = verto.HoldStateActive
	if e.readHold(c, ch) {
		res.HoldState = verto.HoldStateHeld
	}
	e.respond(r, withEcho(res, p, r.msg.Params), nil)
}
