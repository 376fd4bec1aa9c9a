package xrtc

import (
	"errors"

	"xccrtc/verto"
)

// verto.answer: a user answers a call to it (mod_verto verto__answer_func).

func (e *Endpoint) answer(r *request, p *verto.CallParams, c *Call) {
	c.mu.Lock()
	state, dir, ch := c.state, c.dir, c.ch
	c.mu.Unlock()
	switch {
	case state == StateHangup:
		e.respond(r, nil, callNotExist(c.id))
		return
	case dir != Outbound || state.Answered() || ch == nil:
		e.respond(r, nil, sessionError(msgAlreadyAnswered, c.id))
		return
	case p.SDP == "":
		e.respond(r, nil, sessionError(verto.MsgSDPMissing, c.id))
		return
	}
	if err := setRemoteAnswer(ch, p.SDP); err != nil {
		e.warnQuiet("xrtc: client's answer refused", "call_id", c.id, "err", err)
		e.respond(r, nil, sessionError(refusedSDP(err, msgCodecError), c.id))
		e.endCall(c, CauseOf(err), true, true)
		return
	}
	// Everything the answer tells about the callee goes on the channel
	// before it is marked answered, as mod_verto sets the user
	// (switch_ivr_set_user) and callee id before switch_channel_mark_answered:
	// CHANNEL_ANSWER, CDRs and what the dialplan runs next see them.
	ch.SetVariables(e.answerVars(p))
	if err := ch.MarkAnswered(); err != nil {
		e.respond(r, nil, sessionError(msgMediaError, c.id))
		e.endCall(c, CauseOf(err), true, true)
		return
	}
	c.mu.Lock()
	e.moveLocked(c, StateActive)
	c.answeredAt = e.clock.Now()
	c.sessid, c.ctrlUUID, c.user = p.Sessid, p.CtrlUUID, p.XrtcUser
	if c.ringTimer != nil {
		c.ringTimer.Stop()
		c.ringTimer = nil
	}
	ctrls := appendUnique(append([]string(nil), c.ringCtrls...), p.CtrlUUID)
	c.mu.Unlock()
	if p.Sessid != "" {
		e.ev.touch(p.Sessid, p.CtrlUUID, p.XrtcUser)
	}
	e.log.Info("xrtc: call answered by client", "call_id", c.id, "sessid", p.Sessid, "ctrl_uuid", p.CtrlUUID)
	e.startMediaWatch(c)
	e.respond(r, withEcho(nodeResult{NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
	ap := &verto.AnsweredParams{CallID: c.id, Sessid: p.Sessid, CtrlUUID: p.CtrlUUID, NodeUUID: e.nodeUUID}
	for _, u := range ctrls {
		if u == "" {
			continue
		}
		if err := e.publish(e.subjects.Ctrl(u), verto.MethodXrtcAnswered, ap, false); err != nil {
			e.log.Warn("xrtc: xrtc.answered not sent", "call_id", c.id, "ctrl_uuid", u, "err", err)
		}
	}
}

// answerVars are the channel variables of the user who answered: their
// variables (setUserVars: the directory's win over the client's), the
// socket that answered, and the callee id.
func (e *Endpoint) answerVars(p *verto.CallParams) map[string]string {
	vars := map[string]string{}
	setUserVars(vars, p.XrtcUser)
	vars["jsock_uuid_str"] = p.Sessid
	vars["event_channel_cookie"] = p.Sessid
	vars["xrtc_ctrl_uuid"] = p.CtrlUUID
	// verto.js repeats in its answer the dialogParams of the invite it
	// got: a callee out of bounds (verto.CheckParty) is left unset, and
	// the call answered.
	for k, v := range map[string]string{
		"callee_id_name":   firstNonEmpty(p.CalleeIDName, p.DialogParams.CalleeIDName),
		"callee_id_number": firstNonEmpty(p.CalleeIDNumber, p.DialogParams.CalleeIDNumber),
	} {
		if verto.CheckParty(k, v) == nil {
			vars[k] = v
		}
	}
	if u := p.XrtcUser; u != nil {
		vars["verto_user"], vars["presence_id"], vars["verto_host"] = u.Login, u.Login, u.Domain
		vars["chat_proto"] = ChatProto
	}
	for k, v := range vars {
		if v == "" {
			delete(vars, k)
		}
	}
	return vars
}

// refusedSDP is the message for a client SDP the channel refused: codecMsg
// when it does not parse or has nothing in common, else a media error.
func refusedSDP(err error, codecMsg string) string {
	if errors.Is(err, ErrBadSDP) || errors.Is(err, ErrCodec) {
		return codecMsg
	}
	return msgMediaError
}
