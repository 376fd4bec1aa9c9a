package xrtc

import (
	"errors"
	"math"
	"strconv"

	"xccrtc/verto"
)

// verto.invite: a client calls out (mod_verto verto__invite_func).

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
	// The destination and the parties' names and numbers become the
	// caller profile and go on to the dialplan and other legs (XCtrl
	// bounds them too; another controller may not).
	err := p.DialogParams.CheckCaller()
	if d := p.DialogParams.DestinationNumber; err == nil && d != "" {
		err = verto.CheckDest("destination_number", d)
	}
	if err != nil {
		e.refuseBadInput(r, err)
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
	// Each userVariable becomes a channel variable (XCtrl bounds them
	// too; another controller may not).
	if err := c.takeUserVars(p); err != nil {
		e.refuseBadInput(r, err)
		return
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
	ch, err := e.newInboundCall(spec)
	if err != nil {
		c.mu.Lock()
		c.state = StateHangup
		c.mu.Unlock()
		e.unregister(c)
		e.warnQuiet("xrtc: cannot create channel", "call_id", c.id, "destination", spec.Caller.DestinationNumber, "err", err)
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
		e.moveLocked(c, StateTrying)
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
		NetworkAddr:       clientIP(u),
		Source:            "mod_xrtc",
	}
	vars := make(map[string]string, 16+len(u.Variables)+len(u.UserVariables)+len(dp.UserVariables))
	setUserVars(vars, u)
	vars["jsock_uuid_str"] = p.Sessid
	vars["event_channel_cookie"] = p.Sessid
	vars["verto_user"] = u.Login
	vars["presence_id"] = u.Login
	vars["verto_host"] = u.Domain
	vars["chat_proto"] = ChatProto
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
	// A canvas number, as mod_verto reads it (atoi) and sets it (%d): not
	// what the client sent, which may be anything.
	if n, ok := dp.ConferenceCanvasID.Int(); ok && n >= 0 && n <= math.MaxInt32 {
		vars["video_initial_watching_canvas"] = strconv.Itoa(n)
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
		// FreeSWITCH refuses a value it would expand, with a CRIT line
		// in its log for each: left out here.
		if s := anyString(v); verto.VarRef(s) < 0 && verto.VarRef(k) < 0 {
			vars["verto_dvar_"+k] = s
		}
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
