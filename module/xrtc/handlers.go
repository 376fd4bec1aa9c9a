package xrtc

import (
	"encoding/json"
	"errors"
	"strconv"

	"xccrtc/verto"
)

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
		p := new(verto.CallParams)
		if err := m.DecodeParams(p); err != nil {
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
	e.stats.badInput.Add(1)
	e.log.Warn("xrtc: request refused: bad identifier", "method", r.msg.Method, "err", err)
	var ie *verto.IdentError
	if errors.As(err, &ie) {
		e.respond(r, nil, ie.RPC())
	}
	return false
}

func (e *Endpoint) dispatchCall(r *request, p *verto.CallParams) {
	method := r.msg.Method
	callID := p.CallID()
	if method == verto.MethodInfo && callID == "" {
		// Chat without a call: handled on the socket's queue.
		s := e.ev.touch(p.Sessid, p.CtrlUUID, p.XrtcUser)
		e.run(&s.q, method, e.guarded(r, func() { e.info(r, p, nil) }))
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
	if !e.runCall(c, method, e.guarded(r, h)) {
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

// ---- verto.invite: a client calls out ----

func (e *Endpoint) inboundProfile() *Profile {
	cfg := e.config()
	name := e.opts.InboundProfile
	if name == "" {
		name = verto.DefaultProfile
	}
	if p, ok := cfg.Profiles[name]; ok {
		return p
	}
	if len(cfg.Profiles) == 1 {
		for _, p := range cfg.Profiles {
			return p
		}
	}
	return nil
}

func (e *Endpoint) invite(r *request, p *verto.CallParams) {
	callID := p.CallID()
	if p.SDP == "" {
		e.respond(r, nil, sessionError(verto.MsgSDPMissing, callID))
		return
	}
	prof := e.inboundProfile()
	if prof == nil {
		e.log.Error("xrtc: no profile for calls from clients", "call_id", callID, "profile", e.opts.InboundProfile)
		e.respond(r, nil, sessionError(verto.MsgCannotCreate, callID))
		return
	}
	c := &Call{
		id: callID, dir: Inbound, profile: prof, created: e.clock.Now(), state: StateNew,
		sessid: p.Sessid, ctrlUUID: p.CtrlUUID, user: p.XrtcUser,
	}
	if !e.register(c) {
		e.respond(r, nil, sessionError(verto.MsgCannotCreate, callID))
		return
	}
	if !e.runCall(c, verto.MethodInvite, e.guarded(r, func() { e.createInbound(r, p, c) })) {
		e.unregister(c)
		e.respond(r, nil, sessionError(verto.MsgCannotCreate, callID))
	}
}

func (e *Endpoint) createInbound(r *request, p *verto.CallParams, c *Call) {
	spec := e.inboundSpec(c, p)
	c.mu.Lock()
	c.dest = spec.Caller.DestinationNumber
	c.caller = spec.Caller
	c.noRecover = p.DialogParams.RecoverCall != nil && !*p.DialogParams.RecoverCall
	c.mu.Unlock()
	ch, err := e.host.NewInboundCall(spec)
	if err != nil {
		c.mu.Lock()
		c.state = StateHangup
		c.mu.Unlock()
		e.unregister(c)
		e.log.Warn("xrtc: cannot create channel", "call_id", c.id, "destination", spec.Caller.DestinationNumber, "err", err)
		var ce *CauseError
		switch {
		case errors.Is(err, ErrBadSDP), errors.Is(err, ErrCodec), errors.As(err, &ce):
			e.respond(r, nil, callError(c.id, CauseOf(err)))
		default:
			e.respond(r, nil, sessionError(verto.MsgCannotCreate, c.id))
		}
		return
	}
	c.mu.Lock()
	c.ch = ch
	c.mu.Unlock()
	if p.Sessid != "" {
		e.ev.touch(p.Sessid, p.CtrlUUID, p.XrtcUser)
	}
	e.log.Info("xrtc: call from client", "call_id", c.id, "destination", spec.Caller.DestinationNumber,
		"ctrl_uuid", p.CtrlUUID, "sessid", p.Sessid, "context", spec.Caller.Context)
	// "CALL CREATED" goes out while the call is still StateNew: an early
	// media or answer indication the switch makes meanwhile waits on the
	// call's queue behind this invite (see indicate), so the client never
	// sees verto.answer before the invite's result.
	e.respond(r, withEcho(verto.InviteResult{Message: "CALL CREATED", CallID: c.id, NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
	c.mu.Lock()
	if c.state == StateNew {
		_ = c.setState(StateTrying)
	}
	c.mu.Unlock()
	if st, ok := ch.(Starter); ok {
		st.Start()
	}
}

// inboundSpec builds the caller profile and channel variables of a client's
// call the way mod_verto does (PROTOCOL.md 3.4).
func (e *Endpoint) inboundSpec(c *Call, p *verto.CallParams) InboundSpec {
	dp := p.DialogParams
	u := p.XrtcUser
	if u == nil {
		u = &verto.User{}
	}
	cp := CallerProfile{
		Username:          u.ID,
		CallerIDName:      firstNonEmpty(dp.CallerIDName, u.CallerIDName, u.ID),
		CallerIDNumber:    firstNonEmpty(dp.CallerIDNumber, u.CallerIDNumber, u.ID),
		CalleeIDName:      dp.RemoteCallerIDName,
		CalleeIDNumber:    dp.RemoteCallerIDNumber,
		DestinationNumber: firstNonEmpty(dp.DestinationNumber, "service"),
		Context:           firstNonEmpty(u.Context, u.Variables["user_context"], c.profile.context()),
		Dialplan:          firstNonEmpty(u.Dialplan, c.profile.dialplan()),
		ANI:               dp.ANI,
		ANIII:             dp.ANIII,
		RDNIS:             dp.RDNIS,
		Source:            "mod_xrtc",
	}
	vars := make(map[string]string, 16+len(u.Variables)+len(u.UserVariables)+len(dp.UserVariables))
	// The client's login userVariables first, the directory's variables
	// over them: a browser cannot widen toll_allow or spoof accountcode
	// (mod_verto applies the directory user after the client's variables).
	for k, v := range u.UserVariables {
		vars[k] = anyString(v)
	}
	for k, v := range u.Variables {
		vars[k] = v
	}
	vars["jsock_uuid_str"] = p.Sessid
	vars["event_channel_cookie"] = p.Sessid
	vars["verto_user"] = u.Login
	vars["presence_id"] = u.Login
	vars["verto_host"] = u.Domain
	vars["chat_proto"] = "verto"
	vars["verto_profile_name"] = c.profile.Name
	vars["xrtc_ctrl_uuid"] = p.CtrlUUID
	vars["xrtc_node_uuid"] = e.nodeUUID
	if dp.RemoteCallerIDName != "" {
		vars["verto_remote_caller_id_name"] = dp.RemoteCallerIDName
	}
	if dp.RemoteCallerIDNumber != "" {
		vars["verto_remote_caller_id_number"] = dp.RemoteCallerIDNumber
	}
	if dp.ScreenShare {
		vars["video_screen_share"] = "true"
	}
	if dp.SecondSource {
		vars["video_second_source"] = "true"
	}
	if dp.DedEnc {
		vars["video_use_dedicated_encoder"] = "true"
	}
	if dp.MirrorInput {
		vars["video_mirror_input"] = "true"
	}
	if dp.ConferenceCanvasID != "" {
		vars["video_initial_watching_canvas"] = string(dp.ConferenceCanvasID)
		vars["video_second_screen"] = "true"
	}
	if n, ok := dp.OutgoingBandwidth.Int(); ok && n > 0 {
		vars["rtp_video_max_bandwidth_in"] = strconv.Itoa(n) + "kb"
	}
	if n, ok := dp.IncomingBandwidth.Int(); ok && n > 0 {
		vars["rtp_video_max_bandwidth_out"] = strconv.Itoa(n) + "kb"
	}
	mediaSettingVars(vars, dp)
	for k := range vars {
		if vars[k] == "" {
			delete(vars, k)
		}
	}
	return InboundSpec{
		UUID:      c.id,
		Name:      "xrtc/" + cp.DestinationNumber,
		Profile:   c.profile,
		RemoteSDP: p.SDP,
		Caller:    cp,
		Vars:      vars,
	}
}

// mediaSettingVars maps dialogParams.userVariables and audio to channel
// variables (verto_dvar_*, verto_echoCancellation ...).
func mediaSettingVars(vars map[string]string, dp *verto.DialogParams) {
	for k, v := range dp.UserVariables {
		vars["verto_dvar_"+k] = anyString(v)
	}
	if a := dp.Audio; a != nil {
		for k, b := range map[string]*bool{
			"verto_echoCancellation": a.EchoCancellation,
			"verto_noiseSuppression": a.NoiseSuppression,
			"verto_autoGainControl":  a.AutoGainControl,
		} {
			if b != nil {
				vars[k] = strconv.FormatBool(*b)
			}
		}
	}
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

// ---- the switch reports on a channel ----

// ChannelProgress reports early media on a client's call: the client gets
// verto.media with the local SDP. (FreeSWITCH: receive_message
// SWITCH_MESSAGE_INDICATE_PROGRESS.)
func (e *Endpoint) ChannelProgress(uuid, localSDP string) {
	e.safely("ChannelProgress", func() { e.indicate(uuid, verto.MethodMedia, localSDP) })
}

// ChannelAnswer reports that the switch answered a client's call: the
// client gets verto.answer, with the local SDP unless verto.media carried it.
// (FreeSWITCH: receive_message SWITCH_MESSAGE_INDICATE_ANSWER.) For a call to
// a user it is ignored: the client answered it.
func (e *Endpoint) ChannelAnswer(uuid, localSDP string) {
	e.safely("ChannelAnswer", func() { e.indicate(uuid, verto.MethodAnswer, localSDP) })
}

// indicate sends verto.media / verto.answer on the caller's thread, as
// mod_verto writes them from the session's thread: what the switch does next
// for the call (a conference join event, say) comes after it. Only while
// the verto.invite that created the call is still being answered does it
// wait on the call's queue, so that "CALL CREATED" comes first.
func (e *Endpoint) indicate(uuid, method, sdp string) {
	c := e.lookup(uuid)
	if c == nil {
		return
	}
	if c.getState() == StateNew {
		e.runCall(c, method, func() { e.mediaIndication(c, method, sdp) })
		return
	}
	e.mediaIndication(c, method, sdp)
}

func (e *Endpoint) mediaIndication(c *Call, method, sdp string) {
	c.mu.Lock()
	if c.dir != Inbound || c.state == StateHangup || c.state == StateNew {
		c.mu.Unlock()
		return
	}
	to := StateEarly
	if method == verto.MethodAnswer {
		to = StateActive
	}
	if c.state == to || (to == StateEarly && c.state.Answered()) {
		c.mu.Unlock()
		return
	}
	if err := c.setState(to); err != nil {
		c.mu.Unlock()
		e.log.Warn("xrtc: media indication refused", "call_id", c.id, "err", err)
		return
	}
	p := &verto.ServerCallParams{}
	if !c.sentMedia {
		p.SDP = sdp
	}
	c.sentMedia = true
	if to == StateActive {
		c.answeredAt = e.clock.Now()
	}
	c.mu.Unlock()
	// The watch is armed before the client hears of the media, so that
	// nothing the client does next can come before it.
	e.startMediaWatch(c)
	if err := e.toClient(c, method, p); err != nil {
		// The client will never learn about its media: fail the call
		// cleanly, as mod_verto does when its socket write fails.
		e.log.Warn("xrtc: "+method+" not sent, hanging up", "call_id", c.id, "err", err)
		c.mu.Lock()
		c.quiet = true
		c.mu.Unlock()
		e.runCall(c, "indication failed", func() { e.endCall(c, verto.CauseDestinationOutOfOrder, true, false) })
	}
}

// ChannelHangup reports that a channel hung up, for whatever reason: the
// client is told with verto.bye (cause and causeCode) unless it ended the
// call itself. (FreeSWITCH: the on_hangup state handler.)
func (e *Endpoint) ChannelHangup(uuid string, cause verto.Cause) {
	e.safely("ChannelHangup", func() {
		if c := e.lookup(uuid); c != nil {
			e.runCall(c, "hangup", func() { e.endCall(c, cause, false, true) })
		}
	})
}

// ChannelDisplay reports a new remote party display (verto.display).
// (FreeSWITCH: SWITCH_MESSAGE_INDICATE_DISPLAY.)
func (e *Endpoint) ChannelDisplay(uuid, name, number string) {
	e.safely("ChannelDisplay", func() {
		c := e.lookup(uuid)
		if c == nil {
			return
		}
		if st := c.getState(); st == StateHangup || st == StateNew {
			return
		}
		p := &verto.ServerCallParams{DisplayName: name, DisplayNumber: number}
		if err := e.toClient(c, verto.MethodDisplay, p); err != nil {
			e.log.Warn("xrtc: verto.display not sent", "call_id", c.id, "err", err)
		}
	})
}

// ---- client requests about a call ----

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
	if err := ch.SetRemoteAnswer(p.SDP); err != nil {
		msg := msgMediaError
		if errors.Is(err, ErrBadSDP) || errors.Is(err, ErrCodec) {
			msg = msgCodecError
		}
		e.log.Warn("xrtc: client's answer refused", "call_id", c.id, "err", err)
		e.respond(r, nil, sessionError(msg, c.id))
		e.endCall(c, CauseOf(err), true, true)
		return
	}
	if err := ch.MarkAnswered(); err != nil {
		e.respond(r, nil, sessionError(msgMediaError, c.id))
		e.endCall(c, CauseOf(err), true, true)
		return
	}
	dpx := p.DialogParams
	c.mu.Lock()
	_ = c.setState(StateActive)
	c.answeredAt = e.clock.Now()
	c.sessid, c.ctrlUUID, c.user = p.Sessid, p.CtrlUUID, p.XrtcUser
	if c.ringTimer != nil {
		c.ringTimer.Stop()
		c.ringTimer = nil
	}
	ctrls := appendUnique(append([]string(nil), c.ringCtrls...), p.CtrlUUID)
	c.mu.Unlock()
	vars := map[string]string{
		"jsock_uuid_str":       p.Sessid,
		"event_channel_cookie": p.Sessid,
		"xrtc_ctrl_uuid":       p.CtrlUUID,
		"callee_id_name":       firstNonEmpty(p.CalleeIDName, dpx.CalleeIDName),
		"callee_id_number":     firstNonEmpty(p.CalleeIDNumber, dpx.CalleeIDNumber),
	}
	if u := p.XrtcUser; u != nil {
		vars["verto_user"], vars["presence_id"], vars["verto_host"] = u.Login, u.Login, u.Domain
	}
	for k, v := range vars {
		if v == "" {
			delete(vars, k)
		}
	}
	ch.SetVariables(vars)
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
				_ = c.setState(StateHeld)
			} else {
				_ = c.setState(StateActive)
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
	sent := false
	if m := p.Msg; m != nil {
		if m.To == "" || m.Body == "" {
			e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidParams, Message: msgInvalidChat})
			return
		}
		chat := Chat{To: m.To, Body: m.Body, Sessid: p.Sessid, InDialog: m.InDialog}
		if p.XrtcUser != nil {
			chat.From = p.XrtcUser.Login
		}
		if prof != nil {
			chat.Profile = prof.Name
		}
		if m.InDialog {
			chat.CallID = callID
		}
		if err := e.host.SendChat(chat); err != nil {
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

// attach is the client's answer to a verto.attach offer.
func (e *Endpoint) attach(r *request, p *verto.CallParams, c *Call) {
	c.mu.Lock()
	state, ch, wanted := c.state, c.ch, c.attachWanted
	c.mu.Unlock()
	switch {
	case state == StateHangup || ch == nil:
		e.respond(r, nil, callNotExist(c.id))
		return
	case !state.Answered() || !wanted:
		e.respond(r, nil, sessionError(msgNotAnsweredAttach, c.id))
		return
	case p.SDP == "":
		e.respond(r, nil, sessionError(verto.MsgSDPMissing, c.id))
		return
	}
	if err := ch.SetRemoteAnswer(p.SDP); err != nil {
		msg := msgMediaError
		if errors.Is(err, ErrBadSDP) || errors.Is(err, ErrCodec) {
			msg = msgCodecNegotiation
		}
		e.respond(r, nil, sessionError(msg, c.id))
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
		_ = c.setState(StateHeld)
	} else {
		_ = c.setState(StateActive)
	}
	if p.Sessid != "" {
		c.sessid = p.Sessid
	}
	if p.CtrlUUID != "" {
		c.ctrlUUID = p.CtrlUUID
	}
	c.quiet = false
	c.mu.Unlock()
	e.log.Info("xrtc: call re-attached", "call_id", c.id, "sessid", p.Sessid, "ctrl_uuid", p.CtrlUUID)
	e.startMediaWatch(c)
	e.respond(r, withEcho(nodeResult{NodeUUID: e.nodeUUID}, p, r.msg.Params), nil)
}
