package xrtc

import (
	"encoding/json"
	"strconv"

	"xccrtc/verto"
)

// dispatch routes the Verto requests that reach the node to their
// handlers, one file per method (invite.go, answer.go, bye.go, modify.go,
// info.go, attach.go, login.go, detach.go; subscriptions in events.go), as
// mod_verto has one function per method.

// Results carry the node's uuid (verto README: "the node puts node_uuid into
// every result").
type (
	nodeResult struct {
		NodeUUID string `json:"node_uuid,omitempty"`
	}
	byeResult struct {
		verto.ByeResult
		NodeUUID string `json:"node_uuid,omitempty"`
	}
	modifyResult struct {
		verto.ModifyResult
		NodeUUID string `json:"node_uuid,omitempty"`
	}
	messageResult struct {
		verto.MessageResult
		NodeUUID string `json:"node_uuid,omitempty"`
	}
)

// dispatch routes a request to its handler's queue.
func (e *Endpoint) dispatch(r *request) {
	m := r.msg
	switch m.Method {
	case verto.MethodInvite, verto.MethodAnswer, verto.MethodAttach, verto.MethodBye,
		verto.MethodModify, verto.MethodInfo:
		p, err := m.DecodeCallParams()
		if err != nil {
			e.respond(r, nil, verto.AsError(err))
			return
		}
		if !e.checkIdents(r, p.CtrlUUID, p.Sessid, p.CallID()) {
			return
		}
		e.dispatchCall(r, p)
	case verto.MethodSubscribe, verto.MethodUnsubscribe, verto.MethodBroadcast:
		e.dispatchEvent(r)
	case verto.MethodXrtcLogin, verto.MethodXrtcDetach:
		p := new(verto.ControlParams)
		if err := m.DecodeParams(p); err != nil {
			e.respond(r, nil, verto.AsError(err))
			return
		}
		if !e.checkIdents(r, p.CtrlUUID, p.Sessid, "") {
			return
		}
		if p.Sessid == "" {
			e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidParams, Message: "sessid missing"})
			return
		}
		s := e.ev.touch(p.Sessid, p.CtrlUUID, p.XrtcUser)
		if m.Method == verto.MethodXrtcLogin {
			e.run(&s.q, m.Method, e.guarded(r, func() { e.login(r, p) }))
		} else {
			e.run(&s.q, m.Method, e.guarded(r, func() { e.detach(r, p) }))
		}
	case verto.MethodXrtcCalls:
		var p struct {
			CtrlUUID string `json:"ctrl_uuid"`
		}
		_ = m.DecodeParams(&p)
		if p.CtrlUUID == "" {
			e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidParams, Message: "ctrl_uuid missing"})
			return
		}
		if !e.checkIdents(r, p.CtrlUUID, "", "") {
			return
		}
		e.callsFor(r, p.CtrlUUID)
	case verto.MethodPing, verto.MethodXrtcPing:
		var p struct {
			CtrlUUID string `json:"ctrl_uuid"`
		}
		_ = m.DecodeParams(&p)
		if !e.checkIdents(r, p.CtrlUUID, "", "") {
			return
		}
		e.respond(r, messageResult{MessageResult: verto.MessageResult{Message: "PONG"}, NodeUUID: e.nodeUUID}, nil)
	case verto.MethodEcho:
		if len(m.Params) == 0 {
			e.respond(r, nil, sessionError(verto.MsgParamsMissing, ""))
			return
		}
		e.respond(r, m.Params, nil)
	case verto.MethodXrtcLookupUser:
		e.lookupUser(r)
	case verto.MethodJSAPI, verto.MethodFSAPI:
		e.runAPI(r) // api_exec.go
	default:
		e.respond(r, nil, verto.ErrMethodNotFound)
	}
	e.stats.handled.Add(1)
}

// checkIdents bounds the identifiers a NATS peer sent (the ctrl_uuid becomes
// a subject, the callID a channel UUID) and sets r.ctrlUUID when it is
// usable. A bad one is answered with -32602 and the request goes no further.
func (e *Endpoint) checkIdents(r *request, ctrlUUID, sessid, callID string) bool {
	var err error
	if ctrlUUID != "" {
		if err = verto.CheckCtrlRef(ctrlUUID); err == nil {
			r.ctrlUUID = ctrlUUID
		}
	}
	if err == nil && sessid != "" {
		err = verto.CheckSessid(sessid)
	}
	if err == nil && callID != "" {
		err = verto.CheckCallID(callID)
	}
	if err == nil {
		return true
	}
	e.refuseBadInput(r, err)
	return false
}

// refuseBadInput answers a request whose params a check refused (an
// IdentError: -32602 naming what), counts it and logs it (quietly: a
// client sending such things is not to fill the log).
func (e *Endpoint) refuseBadInput(r *request, err error) {
	e.stats.badInput.Add(1)
	e.warnQuiet("xrtc: request refused: bad params", "method", r.msg.Method, "err", err)
	e.respond(r, nil, verto.IdentRPC(err))
}

func (e *Endpoint) dispatchCall(r *request, p *verto.CallParams) {
	method := r.msg.Method
	callID := p.CallID()
	if method == verto.MethodInfo && callID == "" {
		// Chat without a call: handled on the socket's queue.
		s := e.ev.touch(p.Sessid, p.CtrlUUID, p.XrtcUser)
		e.runRequest(&s.q, r, func() { e.info(r, p, nil) })
		return
	}
	if p.DialogParams == nil {
		e.respond(r, nil, sessionError(verto.MsgDialogMissing, ""))
		return
	}
	if callID == "" {
		e.respond(r, nil, sessionError(verto.MsgCallIDMissing, ""))
		return
	}
	if method == verto.MethodInvite {
		e.invite(r, p)
		return
	}
	c := e.lookup(callID)
	if c == nil {
		e.respond(r, nil, callNotExist(callID))
		return
	}
	if !c.mayAct(p) {
		// Someone else's call: as if it did not exist (owner.go).
		e.stats.foreign.Add(1)
		e.warnQuiet("xrtc: request on another client's call refused", "method", method, "call_id", callID,
			"sessid", p.Sessid, "login", userLogin(p.XrtcUser))
		e.respond(r, nil, callNotExist(callID))
		return
	}
	var h func()
	switch method {
	case verto.MethodAnswer:
		h = func() { e.answer(r, p, c) }
	case verto.MethodAttach:
		h = func() { e.attach(r, p, c) }
	case verto.MethodBye:
		h = func() { e.bye(r, p, c) }
	case verto.MethodModify:
		h = func() { e.modify(r, p, c) }
	case verto.MethodInfo:
		h = func() { e.info(r, p, c) }
	}
	if !e.runRequest(&c.q, r, h) {
		e.respond(r, nil, callNotExist(callID))
	}
}

// guarded answers r with an internal error if f panics, then lets the
// panic go on to the queue's recovery, which logs it.
func (e *Endpoint) guarded(r *request, f func()) func() {
	return func() {
		defer func() {
			if v := recover(); v != nil {
				e.respond(r, nil, &verto.Error{Code: codeInternal, Message: "Internal error"})
				panic(v)
			}
		}()
		f()
	}
}

// codeInternal is JSON-RPC's internal error.
const codeInternal = -32603

// withEcho adds requestParams when the client asked for echoParams.
func withEcho(result any, p *verto.CallParams, raw json.RawMessage) any {
	if len(p.EchoParams) == 0 || string(p.EchoParams) == "false" || string(p.EchoParams) == "null" {
		return result
	}
	b, err := json.Marshal(result)
	if err != nil {
		return result
	}
	echo := p.EchoParams
	if string(echo) == "true" || string(echo) == `"true"` {
		echo = raw
	}
	out, err := verto.EditParams(b, func(o *verto.Object) { o.SetRaw("requestParams", echo) })
	if err != nil {
		return result
	}
	return json.RawMessage(out)
}

func anyString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func appendUnique(ss []string, s string) []string {
	if s == "" {
		return ss
	}
	for _, x := range ss {
		if x == s {
			return ss
		}
	}
	return append(ss, s)
}
