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
	state, ch, held := c.state, c.ch, c.held
	c.mu.Unlock()
	if state == StateHangup || ch == nil {
		e.respond(r, nil, callNotExist(c.id))
		return
	}
	res := modifyResult{ModifyResult: verto.ModifyResult{CallID: c.id, Action: p.Action}, NodeUUID: e.nodeUUID}
	fail := func(msg string) { e.respond(r, nil, sessionError(msg, c.id)) }
	switch p.Action {
	case verto.ActionHold, verto.ActionUnhold, verto.ActionToggleHold:
		if state != StateActive && state != StateHeld {
			fail(msgNotAnswered)
			return
		}
		want := p.Action == verto.ActionHold || (p.Action == verto.ActionToggleHold && !held)
		if want != held {
			if err := ch.Hold(want); err != nil {
				fail(err.Error())
				return
			}
			c.mu.Lock()
			c.held = want
			if want {
				e.moveLocked(c, StateHeld)
			} else {
				e.moveLocked(c, StateActive)
			}
			c.mu.Unlock()
			e.startMediaWatch(c)
		}
		held = want
	case verto.ActionTransfer:
		if p.Destination == "" {
			fail(msgDestMissing)
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
		other := e.lookup(p.ReplaceCallID)
		var och Channel
		if other != nil && other != c {
			other.mu.Lock()
			och = other.ch
			other.mu.Unlock()
		}
		if och == nil {
			fail(msgInvalidLeg)
			return
		}
		if err := ch.Replace(och); err != nil {
			fail(msgTransferFailed)
			return
		}
		res.Message = "CALL REPLACED"
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
		ans, err := ch.Renegotiate(p.SDP)
		if err != nil {
			fail(msgCodecError)
			return
		}
		res.SDP = ans
	}
	res.HoldState = verto.HoldStateActive
	if held {
		res.HoldState = verto.HoldStateHeld
	}
	e.respond(r, withEcho(res, p, r.msg.Params), nil)
}
