package xrtc

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"xccrtc/verto"
)

// Event channels, as mod_verto keeps them per WebSocket ("jsock"): here per
// client socket, known by its sessid and the XCtrl (ctrl_uuid) that holds it.
// A socket subscribes channels; an event published on channel "a.b" reaches
// the subscribers of "a.b" and of "a", each with its own eventSerno; an
// event that names a sessid reaches only that socket; an event whose
// eventChannel is a socket's sessid or a call's UUID goes straight to that
// socket (PROTOCOL.md 3.7). Every delivery is one verto.event to
// cn.xswitch.ctrl.<ctrl_uuid> with the socket's sessid.

// socket is one client socket as the node knows it.
type socket struct {
	sessid   string
	ctrlUUID string
	user     *verto.User
	perms    *verto.EventPermissions
	q        serial
	subs     map[string]*subscription
	grants   map[string]struct{}
}

type subscription struct {
	serno int64
}

type events struct {
	mu      sync.Mutex
	sockets map[string]*socket
	chans   map[string]map[*socket]*subscription
	anon    *socket // queue for messages without a sessid
	// subscriptions of the presence and FSevent families (presence.go)
	presenceSubs, fsSubs int
	wantsMu              sync.Mutex
	wants                EventWants // what the host was last told (wantsMu)
}

func (ev *events) init() {
	ev.sockets = make(map[string]*socket)
	ev.chans = make(map[string]map[*socket]*subscription)
	ev.anon = &socket{}
}

// touch returns the socket of sessid, creating it, and records the XCtrl
// that holds it now (nodes reply to the ctrl of the last message for a
// sessid).
func (ev *events) touch(sessid, ctrlUUID string, u *verto.User) *socket {
	if sessid == "" {
		return ev.anon
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	s := ev.sockets[sessid]
	if s == nil {
		s = &socket{sessid: sessid}
		ev.sockets[sessid] = s
	}
	if ctrlUUID != "" {
		s.ctrlUUID = ctrlUUID
	}
	if u != nil {
		s.user = u
	}
	return s
}

func (ev *events) socketCount() (sockets, channels int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.sockets), len(ev.chans)
}

// dropSocketOf forgets a socket with its subscriptions and grants
// (mod_verto del_jsock), unless another XCtrl holds the sessid by now.
func (ev *events) dropSocketOf(sessid, ctrlUUID string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	s := ev.sockets[sessid]
	if s == nil || (ctrlUUID != "" && s.ctrlUUID != "" && s.ctrlUUID != ctrlUUID) {
		return
	}
	for ch := range s.subs {
		ev.unsubLocked(s, ch)
	}
	delete(ev.sockets, sessid)
}

// forgetIfIdle drops a socket that has no subscription, no grant and no
// call, so that sockets whose XCtrl never said goodbye do not pile up.
func (ev *events) forgetIfIdle(e *Endpoint, sessid string) {
	ev.mu.Lock()
	s := ev.sockets[sessid]
	idle := s != nil && len(s.subs) == 0 && len(s.grants) == 0
	ev.mu.Unlock()
	if !idle || e.hasCallsOf(sessid) {
		return
	}
	ev.mu.Lock()
	if s2 := ev.sockets[sessid]; s2 == s && len(s.subs) == 0 && len(s.grants) == 0 {
		delete(ev.sockets, sessid)
	}
	ev.mu.Unlock()
}

func (e *Endpoint) hasCallsOf(sessid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.calls {
		c.mu.Lock()
		mine := c.sessid == sessid
		c.mu.Unlock()
		if mine {
			return true
		}
	}
	return false
}

func (ev *events) subLocked(s *socket, ch string) bool {
	if _, ok := s.subs[ch]; ok {
		return false
	}
	sub := &subscription{}
	if s.subs == nil {
		s.subs = make(map[string]*subscription)
	}
	s.subs[ch] = sub
	ev.countLocked(ch, 1)
	m := ev.chans[ch]
	if m == nil {
		m = make(map[*socket]*subscription)
		ev.chans[ch] = m
	}
	m[s] = sub
	return true
}

func (ev *events) unsubLocked(s *socket, ch string) bool {
	if _, ok := s.subs[ch]; !ok {
		return false
	}
	delete(s.subs, ch)
	ev.countLocked(ch, -1)
	if m := ev.chans[ch]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(ev.chans, ch)
		}
	}
	return true
}

// allowedLocked applies the optional allow-list and the switch's grants.
func (s *socket) allowedLocked(ch string) bool {
	if s.perms.Allows(ch) {
		return true
	}
	_, ok := s.grants[ch]
	return ok
}

// eventParams are the params of verto.subscribe, verto.unsubscribe and
// verto.broadcast as XCtrl relays them.
type eventParams struct {
	EventChannel   verto.Channels `json:"eventChannel"`
	Sessid         string         `json:"sessid"`
	CtrlUUID       string         `json:"ctrl_uuid"`
	LocalBroadcast bool           `json:"localBroadcast"`
	UserID         string         `json:"userid"`
	XrtcUser       *struct {
		verto.User
		verto.EventPermissions
	} `json:"xrtc_user"`
}

type (
	subscribeResult struct {
		verto.SubscribeResult
		NodeUUID string `json:"node_uuid,omitempty"`
	}
	unsubscribeResult struct {
		verto.UnsubscribeResult
		NodeUUID string `json:"node_uuid,omitempty"`
	}
	broadcastError struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		NodeUUID string `json:"node_uuid,omitempty"`
	}
)

func (e *Endpoint) dispatchEvent(r *request) {
	p := new(eventParams)
	if err := r.msg.DecodeParams(p); err != nil {
		e.respond(r, nil, verto.AsError(err))
		return
	}
	if !e.checkIdents(r, p.CtrlUUID, p.Sessid, "") {
		return
	}
	var u *verto.User
	if p.XrtcUser != nil {
		u = &p.XrtcUser.User
	}
	s := e.ev.touch(p.Sessid, p.CtrlUUID, u)
	if p.XrtcUser != nil && s != e.ev.anon {
		e.ev.mu.Lock()
		perms := p.XrtcUser.EventPermissions
		s.perms = &perms
		e.ev.mu.Unlock()
	}
	switch r.msg.Method {
	case verto.MethodSubscribe:
		e.runRequest(&s.q, r, func() { e.subscribe(r, p, s) })
	case verto.MethodUnsubscribe:
		e.runRequest(&s.q, r, func() { e.unsubscribe1(r, p, s) })
	default:
		e.runRequest(&s.q, r, func() { e.broadcast(r, p, s, u) })
	}
}

func (e *Endpoint) subscribe(r *request, p *eventParams, s *socket) {
	if s == e.ev.anon {
		e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidParams, Message: "sessid missing"})
		return
	}
	var res verto.SubscribeResult
	e.ev.mu.Lock()
	for _, ch := range p.EventChannel {
		switch {
		case ch == "":
		case !s.allowedLocked(ch) || !e.switchChannelAllowedLocked(s, ch):
			res.UnauthorizedChannels = append(res.UnauthorizedChannels, ch)
		case e.ev.subLocked(s, ch):
			res.SubscribedChannels = append(res.SubscribedChannels, ch)
		default:
			res.AlreadySubscribedChannels = append(res.AlreadySubscribedChannels, ch)
		}
	}
	e.ev.mu.Unlock()
	e.subscribed(res.SubscribedChannels)
	if len(res.SubscribedChannels) == 0 && len(res.AlreadySubscribedChannels) == 0 && len(res.UnauthorizedChannels) > 0 {
		// mod_verto's error, with the code it lacks there.
		e.respond(r, nil, (&verto.Error{Code: verto.CodeInvalidParams, Message: verto.MsgPermission}).
			With("unauthorizedChannels", res.UnauthorizedChannels))
		return
	}
	if res.SubscribedChannels == nil {
		res.SubscribedChannels = []string{}
	}
	e.respond(r, subscribeResult{SubscribeResult: res, NodeUUID: e.nodeUUID}, nil)
}

func (e *Endpoint) unsubscribe1(r *request, p *eventParams, s *socket) {
	var res verto.UnsubscribeResult
	e.ev.mu.Lock()
	for _, ch := range p.EventChannel {
		if s != e.ev.anon && e.ev.unsubLocked(s, ch) {
			res.UnsubscribedChannels = append(res.UnsubscribedChannels, ch)
		} else {
			res.NotSubscribedChannels = append(res.NotSubscribedChannels, ch)
		}
	}
	e.ev.mu.Unlock()
	if len(res.UnsubscribedChannels) == 0 {
		e.respond(r, nil, (&verto.Error{Code: verto.CodeSessionError, Message: "Not subscribed"}).With("notSubscribedChannels", res.NotSubscribedChannels))
		return
	}
	e.respond(r, unsubscribeResult{UnsubscribeResult: res, NodeUUID: e.nodeUUID}, nil)
	if s != e.ev.anon {
		e.ev.forgetIfIdle(e, s.sessid)
	}
	e.updateEventWants()
}

func (e *Endpoint) broadcast(r *request, p *eventParams, s *socket, u *verto.User) {
	ch := ""
	if len(p.EventChannel) > 0 {
		ch = p.EventChannel[0]
	}
	if ch == "" {
		// mod_verto's quirk: broadcast errors come inside the result.
		e.respond(r, broadcastError{Code: verto.CodeSessionError, Message: msgEventChannel, NodeUUID: e.nodeUUID}, nil)
		return
	}
	e.ev.mu.Lock()
	ok := s.allowedLocked(ch)
	e.ev.mu.Unlock()
	if !ok {
		e.respond(r, broadcastError{Code: verto.CodeSessionError, Message: msgPermissionDenied, NodeUUID: e.nodeUUID}, nil)
		return
	}
	event, err := verto.EditParams(r.msg.Params, func(o *verto.Object) {
		o.Delete(verto.KeyCtrlUUID)
		o.Delete(verto.KeyNodeUUID)
		o.Delete(verto.KeyXrtcUser)
		o.Set("eventChannel", ch)
		if p.UserID == "" && u != nil && u.Login != "" {
			o.Set("userid", u.Login)
		}
	})
	if err != nil {
		e.respond(r, nil, verto.AsError(err))
		return
	}
	if p.LocalBroadcast {
		obj, err := verto.ParseObject(event)
		if err == nil {
			e.ev.mu.Lock()
			e.fanOutLocked(ch, obj, nil)
			e.ev.mu.Unlock()
		}
	} else {
		// mod_conference runs a moderator's commands from the mod
		// channel, a transfer's destination among them, which the
		// stock dialplan expands again, API calls included (VarRef).
		// fromDisplay is XCtrl's, from the directory.
		if path := verto.FindVarRef(event, "fromDisplay"); path != "" {
			e.refuseBadInput(r, &verto.IdentError{What: path, Reason: "a variable reference (${)"})
			return
		}
		if err := e.host.Broadcast(ch, event); err != nil {
			e.warnQuiet("xrtc: broadcast refused by the switch", "channel", ch, "err", err)
		}
	}
	e.respond(r, nodeResult{NodeUUID: e.nodeUUID}, nil)
}

// ErrNoEventChannel: an event given to DeliverEvent names no channel.
var ErrNoEventChannel = errors.New("xrtc: event has no eventChannel")

// DeliverEvent is the switch's event-channel bus reaching the endpoint
// (FreeSWITCH: the function bound with switch_event_channel_bind, called by
// mod_conference's liveArray, chat and moderator channels and by presence):
// it relays the event to the sockets that subscribed (see the rules above).
// channel may be "" when the event's eventChannel says it. A conference's
// pvtData join/part event to a member's sessid also grants/revokes that
// socket the conference's channels.
func (e *Endpoint) DeliverEvent(channel string, event json.RawMessage) error {
	var err error
	e.safely("DeliverEvent", func() { err = e.deliverEvent(channel, event) })
	return err
}

func (e *Endpoint) deliverEvent(channel string, event json.RawMessage) error {
	obj, err := verto.ParseObject(event)
	if err != nil {
		return err
	}
	if channel == "" {
		channel = obj.String("eventChannel")
	}
	if channel == "" {
		return ErrNoEventChannel
	}
	if !obj.Has("eventChannel") {
		obj.Set("eventChannel", channel)
	}
	e.deliverObj(channel, obj)
	return nil
}

func (e *Endpoint) deliverObj(channel string, obj *verto.Object) {
	direct := ""
	if c := e.lookup(channel); c != nil {
		c.mu.Lock()
		direct = c.sessid
		c.mu.Unlock()
	}
	e.ev.mu.Lock()
	defer e.ev.mu.Unlock()
	if direct == "" {
		if _, ok := e.ev.sockets[channel]; ok {
			direct = channel
		}
	}
	if direct != "" {
		s := e.ev.sockets[direct]
		if s == nil {
			return
		}
		e.applyPvtDataLocked(s, obj)
		e.sendEventLocked(s, obj, nil, "")
		return
	}
	var only *socket
	if sid := obj.String("sessid"); sid != "" {
		if only = e.ev.sockets[sid]; only == nil {
			return
		}
	}
	e.fanOutLocked(channel, obj, only)
	if i := strings.IndexByte(channel, '.'); i > 0 {
		e.fanOutLocked(channel[:i], obj, only)
	}
}

func (e *Endpoint) applyPvtDataLocked(s *socket, obj *verto.Object) {
	var pvt verto.PvtData
	if !obj.Get("pvtData", &pvt) {
		return
	}
	switch pvt.Action {
	case verto.PvtActionJoin:
		if s.grants == nil {
			s.grants = make(map[string]struct{})
		}
		for _, ch := range pvt.Channels() {
			s.grants[ch] = struct{}{}
		}
	case verto.PvtActionPart:
		for _, ch := range pvt.Channels() {
			delete(s.grants, ch)
		}
	}
}

// fanOutLocked sends obj to the subscribers of ch (only one socket when
// only is set), each with its subscription's next eventSerno.
func (e *Endpoint) fanOutLocked(ch string, obj *verto.Object, only *socket) {
	for s, sub := range e.ev.chans[ch] {
		if only != nil && s != only {
			continue
		}
		n := sub.serno
		sub.serno++
		e.sendEventLocked(s, obj, &n, ch)
	}
}

func (e *Endpoint) sendEventLocked(s *socket, obj *verto.Object, serno *int64, subscribed string) {
	if s.ctrlUUID == "" {
		return
	}
	if serno != nil {
		obj.Set("eventSerno", *serno)
		obj.Set("subscribedChannel", subscribed)
	}
	obj.Set(verto.KeySessid, s.sessid)
	obj.Set(verto.KeyNodeUUID, e.nodeUUID)
	params, err := obj.MarshalJSON()
	if err != nil {
		return
	}
	if err := e.publish(e.subjects.Ctrl(s.ctrlUUID), verto.MethodEvent, json.RawMessage(params), true); err != nil {
		e.log.Warn("xrtc: verto.event not sent", "sessid", s.sessid, "ctrl_uuid", s.ctrlUUID, "err", err)
	}
}
