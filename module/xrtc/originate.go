package xrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"xccrtc/verto"
)

// OriginateRequest is a call to a WebRTC user, as the switch asks for it
// (FreeSWITCH: the endpoint's outgoing_channel for "xrtc/...").
type OriginateRequest struct {
	// Target is what follows "xrtc/" in the dial string:
	// [profile/]user[@domain][;ctrl_uuid=...].
	Target string
	// Vars are the new channel's variables: the dial string's {...} and
	// what the originator passes on. ctrl_uuid, xcc_ctrl_uuid,
	// origination_uuid and the ring timeouts are read from here.
	Vars map[string]string
	// UUID of the new channel; "" takes origination_uuid, else a new one.
	UUID string
	// Caller is the originator's caller id (caller_id_name/number ...).
	Caller CallerProfile
	// RingTimeout hangs the call up with NO_ANSWER when nobody answers in
	// time; 0 takes leg_timeout, originate_timeout or call_timeout (seconds)
	// from Vars, else no limit.
	RingTimeout time.Duration
}

// Originate starts a call to a WebRTC user: it resolves the dial string
// (unknown profile: CHANNEL_UNACCEPTABLE), has the host create the channel,
// and returns it at once. In the background it then asks the channel for an
// offer and sends verto.invite to the resolved subject (PROTOCOL.md 7 and
// 4.5); XCtrl's answer marks the channel ringing, or fails it
// (USER_NOT_REGISTERED, NO_USER_RESPONSE when nobody replies in 5 s); the
// first client verto.answer answers it.
//
// Errors are *CauseError: the binding returns CauseOf(err) to FreeSWITCH.
func (e *Endpoint) Originate(ctx context.Context, req OriginateRequest) (ch Channel, err error) {
	defer func() {
		if v := recover(); v != nil {
			e.stats.panics.Add(1)
			e.log.Error("xrtc: recovered panic in Originate", "panic", fmt.Sprint(v))
			ch, err = nil, causeErr(verto.CauseCrash, "panic: %v", v)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, &CauseError{Cause: verto.CauseOriginatorCancel, Err: err}
	}
	e.mu.Lock()
	up := e.running && !e.stopped
	e.mu.Unlock()
	if !up {
		return nil, causeErr(verto.CauseSystemShutdown, "endpoint not running")
	}
	d, err := verto.ParseTarget(req.Target)
	if err != nil {
		return nil, &CauseError{Cause: verto.CauseInvalidNumberFormat, Err: err}
	}
	keys := make([]string, 0, len(req.Vars))
	for k := range req.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Vars = append(d.Vars, verto.KV{Key: k, Value: req.Vars[k]})
	}
	cfg := e.config()
	route, err := e.resolve(cfg, d)
	if err != nil {
		return nil, err
	}
	prof := cfg.Profiles[route.Profile]
	uuid := firstNonEmpty(req.UUID, req.Vars["origination_uuid"])
	if uuid == "" {
		uuid = newUUID()
	}
	ring := req.RingTimeout
	if ring <= 0 {
		for _, k := range []string{"leg_timeout", "originate_timeout", "call_timeout"} {
			if n, err := strconv.Atoi(strings.TrimSpace(req.Vars[k])); err == nil && n > 0 {
				ring = time.Duration(n) * time.Second
				break
			}
		}
	}
	dest, user := route.Login, route.User
	if route.Sessid != "" {
		dest, user = socketTarget(route, req.Vars)
	}
	caller := req.Caller
	caller.DestinationNumber = firstNonEmpty(route.User, dest)
	caller.CalleeIDNumber = firstNonEmpty(caller.CalleeIDNumber, req.Vars["origination_callee_id_number"], user)
	caller.CalleeIDName = firstNonEmpty(caller.CalleeIDName, req.Vars["origination_callee_id_name"])
	caller.CallerIDName = firstNonEmpty(caller.CallerIDName, req.Vars["origination_caller_id_name"])
	caller.CallerIDNumber = firstNonEmpty(caller.CallerIDNumber, req.Vars["origination_caller_id_number"])
	caller.Context = firstNonEmpty(caller.Context, prof.context())
	caller.Dialplan = firstNonEmpty(caller.Dialplan, prof.dialplan())
	caller.Source = "mod_xrtc"
	vars := make(map[string]string, len(req.Vars)+6)
	for k, v := range req.Vars {
		vars[k] = v
	}
	if login := socketLogin(route, req.Vars); login != "" {
		vars["verto_orig_dest"] = login
	}
	if vars["origination_callee_id_number"] == "" && user != "" {
		vars["origination_callee_id_number"] = user
	}
	vars["verto_profile_name"] = prof.Name
	vars["xrtc_node_uuid"] = e.nodeUUID
	vars["xrtc_subject"] = route.Subject
	if route.CtrlUUID != "" {
		vars["xrtc_ctrl_uuid"] = route.CtrlUUID
	}
	c := &Call{
		id: uuid, dir: Outbound, profile: prof, created: e.clock.Now(), state: StateNew,
		dest: dest, caller: caller, route: route,
	}
	if !e.register(c) {
		return nil, causeErr(verto.CauseChannelUnacceptable, "call %s exists (or the endpoint stopped)", uuid)
	}
	ch, err = e.host.NewOutboundCall(OutboundSpec{
		UUID: uuid, Name: "xrtc/" + dest, Profile: prof, Route: route, Caller: caller, Vars: vars,
	})
	if err != nil {
		c.mu.Lock()
		c.state = StateHangup
		c.mu.Unlock()
		e.unregister(c)
		return nil, &CauseError{Cause: CauseOf(err), Err: err}
	}
	c.mu.Lock()
	c.ch = ch
	c.mu.Unlock()
	e.log.Info("xrtc: calling user", "call_id", uuid, "login", dest, "subject", route.Subject, "ctrl_from", route.CtrlFrom)
	if h, ok := e.host.(OfferOnInit); ok && h.OfferOnInit() {
		c.mu.Lock()
		c.init = &outboundInit{ring: ring, vars: vars}
		c.mu.Unlock()
		return ch, nil
	}
	if !e.runCall(c, "invite user", func() { e.inviteUser(c, ring, vars) }) {
		e.unregister(c)
		ch.Hangup(verto.CauseSystemShutdown)
		return nil, causeErr(verto.CauseSystemShutdown, "endpoint stopped")
	}
	return ch, nil
}

// resolve resolves a dial string with the configuration's profiles: the
// error is a CauseError (unknown profile: CHANNEL_UNACCEPTABLE, anything
// else INVALID_NUMBER_FORMAT).
func (e *Endpoint) resolve(cfg *Config, d *verto.DialString) (*verto.Route, error) {
	route, err := d.Resolve(func(name string) (verto.ProfileInfo, bool) {
		p, ok := cfg.Profiles[name]
		if !ok {
			return verto.ProfileInfo{}, false
		}
		return verto.ProfileInfo{CtrlSubject: cfg.ctrlSubject(p), Domain: p.ForceRegisterDomain}, true
	}, e.subjects, e.host.Status().DefaultDomain)
	switch {
	case errors.Is(err, verto.ErrUnknownProfile):
		return nil, &CauseError{Cause: verto.CauseChannelUnacceptable, Err: err}
	case err != nil:
		return nil, &CauseError{Cause: verto.CauseInvalidNumberFormat, Err: err}
	}
	return route, nil
}

// inviteUser makes the offer and sends verto.invite, on the call's queue:
// for hosts whose outbound channels are ready when NewOutboundCall returns.
func (e *Endpoint) inviteUser(c *Call, ring time.Duration, vars map[string]string) {
	sdp, err := e.offer(c)
	if err != nil {
		e.log.Warn("xrtc: no offer for call to user", "call_id", c.id, "err", err)
		e.endCall(c, CauseOf(err), true, false)
		return
	}
	e.sendInvite(c, sdp, ring, vars)
}

// ChannelInit reports that the switch started an outbound channel, on the
// channel's own thread (FreeSWITCH: the on_init state handler). For a host
// that implements OfferOnInit the offer of the call to the user is made
// here, on that thread, after the switch has finished setting the channel
// up (originator_codec, proxy mode, the originate's variables), as
// mod_verto's verto_on_init does; the verto.invite then goes out from the
// call's queue. Without OfferOnInit, or for any other channel, it does
// nothing. A failed offer hangs the call up (DESTINATION_OUT_OF_ORDER unless
// the channel says why).
func (e *Endpoint) ChannelInit(uuid string) {
	e.safely("ChannelInit", func() {
		c := e.lookup(uuid)
		if c == nil {
			return
		}
		c.mu.Lock()
		init := c.init
		c.init = nil
		recovered := c.rec != nil && c.rec.sdp == ""
		c.mu.Unlock()
		if recovered {
			e.recoverInit(c)
			return
		}
		if init == nil {
			return
		}
		sdp, err := e.offer(c)
		if err != nil {
			e.log.Warn("xrtc: no offer for call to user", "call_id", c.id, "err", err)
			e.runCall(c, "no offer", func() { e.endCall(c, CauseOf(err), true, false) })
			return
		}
		e.runCall(c, "invite user", func() { e.sendInvite(c, sdp, init.ring, init.vars) })
	})
}

// outboundInit is what a call to a user keeps for ChannelInit.
type outboundInit struct {
	ring time.Duration
	vars map[string]string
}

// offer asks the channel of a call to a user for its offer.
func (e *Endpoint) offer(c *Call) (string, error) {
	c.mu.Lock()
	ch := c.ch
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(e.ctx, e.opts.OfferTimeout)
	defer cancel()
	return ch.Offer(ctx)
}

// sendInvite sends the verto.invite of a call to a user (on the call's
// queue) and arms its ring timer.
func (e *Endpoint) sendInvite(c *Call, sdp string, ring time.Duration, vars map[string]string) {
	c.mu.Lock()
	route, caller := c.route, c.caller
	if c.state != StateNew {
		c.mu.Unlock()
		return // hung up meanwhile
	}
	e.moveLocked(c, StateTrying)
	if ring > 0 {
		c.ringTimer = e.after(ring, "ring timer", func() {
			e.runCall(c, "ring timeout", func() {
				if st := c.getState(); st == StateTrying || st == StateRinging || st == StateEarly {
					e.log.Info("xrtc: nobody answered", "call_id", c.id, "timeout", ring.String())
					e.endCall(c, verto.CauseNoAnswer, true, true)
				}
			})
		})
	}
	c.mu.Unlock()
	p := &verto.ServerCallParams{
		CallID:           c.id,
		SDP:              sdp,
		CallerIDName:     firstNonEmpty(caller.CallerIDName, "Outbound Call"),
		CallerIDNumber:   firstNonEmpty(caller.CallerIDNumber, caller.DestinationNumber),
		CalleeIDName:     caller.CalleeIDName,
		CalleeIDNumber:   caller.CalleeIDNumber,
		DisplayDirection: Outbound.String(),
		NodeUUID:         e.nodeUUID,
		Login:            socketLogin(route, vars),
		CtrlUUID:         route.CtrlUUID,
		Sessid:           route.Sessid, // xrtc/u:<sessid>: that socket only
	}
	var headers map[string]string
	for k, v := range vars {
		switch {
		case strings.HasPrefix(k, "verto_svar_"):
			if p.Variables == nil {
				p.Variables = map[string]string{}
			}
			p.Variables[k] = v
		case strings.HasPrefix(k, "verto_h_"):
			if headers == nil {
				headers = map[string]string{}
			}
			headers[k] = v
		}
	}
	if p.Variables == nil {
		p.Variables = map[string]string{}
	}
	// mod_verto's invite always has variables, {} when there is none.
	var params any = struct {
		*verto.ServerCallParams
		Variables map[string]string `json:"variables"`
	}{p, p.Variables}
	if len(headers) > 0 {
		b, _ := json.Marshal(params)
		raw, err := verto.EditParams(b, func(o *verto.Object) {
			for k, v := range headers {
				o.Set(k, v)
			}
		})
		if err == nil {
			params = json.RawMessage(raw)
		}
	}
	m, err := verto.NewRequest(e.nextID(), verto.MethodInvite, params)
	var data []byte
	if err == nil {
		data, err = m.Marshal()
	}
	if err != nil {
		e.endCall(c, verto.CauseNormalTemporaryFailure, true, false)
		return
	}
	if !e.spawn("invite request", func() {
		ctx, cancel := context.WithTimeout(e.ctx, e.opts.InviteTimeout)
		reply, err := e.bus.Request(ctx, route.Subject, data)
		cancel()
		e.runCall(c, "invite reply", func() { e.inviteReply(c, reply, err) })
	}) {
		e.endCall(c, verto.CauseSystemShutdown, true, false)
	}
}

// inviteReply maps XCtrl's answer to the invite onto the call.
func (e *Endpoint) inviteReply(c *Call, data []byte, err error) {
	var rr verto.RingResult
	ringing := false
	cause := verto.CauseNone
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return // endpoint stopping
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNoResponders)):
		cause = verto.CauseNoUserResponse
	case err != nil:
		cause = verto.CauseDestinationOutOfOrder
	default:
		m, derr := verto.DecodeMessage(data, e.opts.Limits)
		switch {
		case derr != nil:
			cause = verto.CauseDestinationOutOfOrder
		case m.Error != nil:
			cause = causeFromMessage(m.Error.Message)
		case m.DecodeResult(&rr) != nil:
			cause = verto.CauseDestinationOutOfOrder
		case rr.Code == 200 || rr.Message == verto.RingMessage:
			ringing = true
		default:
			cause = causeFromMessage(rr.Message)
		}
	}
	c.mu.Lock()
	st := c.state
	if !ringing {
		c.mu.Unlock()
		if st == StateTrying {
			e.log.Info("xrtc: call to user failed", "call_id", c.id, "cause", cause.String(), "err", err)
			e.endCall(c, cause, true, false)
		}
		return
	}
	known := append([]string(nil), c.ringCtrls...)
	for _, u := range append(rr.Ctrls, rr.CtrlUUID) {
		c.ringCtrls = appendUnique(c.ringCtrls, u)
	}
	answeredBy, sessid, endCause := c.ctrlUUID, c.sessid, c.cause
	if st == StateTrying {
		e.moveLocked(c, StateRinging)
	}
	ch := c.ch
	fresh := make([]string, 0, len(c.ringCtrls))
	for _, u := range c.ringCtrls {
		if !contains(known, u) {
			fresh = append(fresh, u)
		}
	}
	c.mu.Unlock()
	switch {
	case st == StateTrying:
		e.log.Info("xrtc: user ringing", "call_id", c.id, "ctrls", strings.Join(fresh, ","), "sockets", rr.Sockets)
		_ = ch.MarkRinging()
	case st == StateHangup:
		// Over before XCtrl answered: stop the ringing it started.
		p := &verto.ServerCallParams{CallID: c.id, NodeUUID: e.nodeUUID, Cause: endCause.String(), CauseCode: int(endCause)}
		for _, u := range fresh {
			_ = e.publish(e.subjects.Ctrl(u), verto.MethodBye, p, true)
		}
	case st.Answered():
		// Answered before XCtrl's reply came: the XCtrls learnt only now
		// must stop ringing their other sockets.
		ap := &verto.AnsweredParams{CallID: c.id, Sessid: sessid, CtrlUUID: answeredBy, NodeUUID: e.nodeUUID}
		for _, u := range fresh {
			if u != answeredBy {
				_ = e.publish(e.subjects.Ctrl(u), verto.MethodXrtcAnswered, ap, false)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// causeFromMessage reads a hang-up cause from XCtrl's error message
// ("USER_NOT_REGISTERED", "USER_BUSY", ...).
func causeFromMessage(msg string) verto.Cause {
	switch msg {
	case verto.MsgNotRegistered:
		return verto.CauseUserNotRegistered
	case verto.MsgSessionNotFound:
		return verto.CauseDestinationOutOfOrder
	}
	if c, ok := verto.ParseCause(msg); ok && c != verto.CauseNone {
		return c
	}
	return verto.CauseNormalTemporaryFailure
}
