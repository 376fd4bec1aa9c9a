package xrtc

import (
	"xccrtc/verto"
)

// verto.info: chat, DTMF, commands, text and media settings (mod_verto
// verto__info_func).

// info handles verto.info; c is nil for chat without a call.
func (e *Endpoint) info(r *request, p *verto.CallParams, c *Call) {
	var ch Channel
	callID := ""
	prof := e.inboundProfile()
	if c != nil {
		c.mu.Lock()
		state := c.state
		ch = c.ch
		prof = c.profile
		c.mu.Unlock()
		callID = c.id
		if state == StateHangup || ch == nil {
			e.respond(r, nil, callNotExist(c.id))
			return
		}
	}
	if p.DTMF != "" {
		// At most verto.MaxDTMFLen: FreeSWITCH logs a line for each
		// digit (XCtrl refuses longer ones too; another controller may
		// not).
		if err := verto.CheckDTMF(p.DTMF); err != nil {
			e.refuseBadInput(r, err)
			return
		}
	}
	if c != nil && (p.Type == "mediaSettings" || p.DialogParams != nil && len(p.DialogParams.UserVariables) > 0) {
		// Set as channel variables below (before anything is done, so
		// that a refused message does nothing): a call holds at most
		// verto.MaxUserVariables of them, of verto.MaxUserVariablesBytes,
		// however many messages bring them.
		if err := c.takeUserVars(p); err != nil {
			e.refuseBadInput(r, err)
			return
		}
	}
	sent := false
	if m := p.Msg; m != nil {
		if m.To == "" || m.Body == "" {
			e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidParams, Message: msgInvalidChat})
			return
		}
		var params struct {
			Msg verto.Object `json:"msg"`
		}
		_ = r.msg.DecodeParams(&params) // decoded before, as p
		// Its addresses may go on in a SIP MESSAGE (XCtrl refuses bad
		// ones too; another controller may not).
		if err := verto.CheckChat(&params.Msg); err != nil {
			e.refuseBadInput(r, err)
			return
		}
		if err := e.host.SendChat(e.clientChat(p, &params.Msg, prof, callID)); err != nil {
			e.respond(r, nil, sessionError(err.Error(), callID))
			return
		}
		sent = true
	}
	if ch != nil {
		if p.DTMF != "" {
			if err := ch.QueueDTMF(p.DTMF); err != nil {
				e.respond(r, nil, sessionError(msgInvalidChannel, callID))
				return
			}
			sent = true
		}
		if len(p.Txt) > 0 && string(p.Txt) != "null" && prof != nil && prof.EnableText {
			_ = ch.SendText(p.Txt)
		}
		if len(p.Command) > 0 && string(p.Command) != "null" {
			_ = ch.QueueCommand(p.Command)
		}
		if dp := p.DialogParams; dp != nil && (p.Type == "mediaSettings" || len(dp.UserVariables) > 0 || dp.Audio != nil) {
			vars := map[string]string{}
			mediaSettingVars(vars, dp)
			if len(vars) > 0 {
				ch.SetVariables(vars)
			}
		}
	} else if p.DTMF != "" {
		e.respond(r, nil, sessionError(msgInvalidChannel, ""))
		return
	}
	if sent {
		e.respond(r, withEcho(messageResult{MessageResult: verto.MessageResult{Message: "SENT"}, NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
		return
	}
	e.respond(r, withEcho(nodeResult{NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
}
