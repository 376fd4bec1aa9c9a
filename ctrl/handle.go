package ctrl

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// replier sends the reply to one client message: to the socket, into the
// frame's batch reply, or nowhere (a notification).
type replier struct {
	s    *Session
	id   verto.ID
	b    *batchReply
	slot int // -1: the message wants no reply
}

func (r replier) send(m *verto.Message) {
	switch {
	case r.slot < 0:
	case r.b != nil:
		r.b.fill(r.slot, m)
	default:
		r.s.sendMsg(m)
	}
}

func (r replier) fail(e *verto.Error) { r.send(verto.NewError(r.id, e)) }

func (r replier) result(v any) {
	m, err := verto.NewResult(r.id, v)
	if err != nil {
		r.fail(verto.AsError(err))
		return
	}
	// mod_verto appends the socket's sessid to every result it writes.
	if sessid := r.s.Sessid(); sessid != "" && len(m.Result) > 0 && m.Result[0] == '{' {
		if res, err := verto.EditParams(m.Result, func(o *verto.Object) {
			if !o.Has(verto.KeySessid) {
				o.Set(verto.KeySessid, sessid)
			}
		}); err == nil {
			m.Result = res
		}
	}
	r.send(m)
}

// batchReply gathers the replies to a batch into one array frame, in the
// order of the batch, once every member that wants a reply has one.
type batchReply struct {
	s    *Session
	mu   sync.Mutex
	msgs []*verto.Message
	left int
}

func (b *batchReply) fill(i int, m *verto.Message) {
	b.mu.Lock()
	if b.msgs[i] != nil {
		b.mu.Unlock()
		return
	}
	b.msgs[i] = m
	b.left--
	done := b.left == 0
	b.mu.Unlock()
	if done {
		frame, err := verto.EncodeFrame(true, b.msgs...)
		if err == nil {
			b.s.sendRaw(frame)
		}
	}
}

// handleFrame decodes one frame and handles each message in it. Every
// frame counts against the socket's rate limit before it is decoded, so a
// flood of garbage is limited like a flood of requests; a batch counts
// each of its members.
func (srv *Server) handleFrame(s *Session, data []byte) {
	now := monoNanos(time.Now())
	lim := &srv.cfg.Limits
	within := s.limiter.allow(1, lim.RatePerSec, lim.RateBurst, now)
	if !within {
		srv.metrics.rateLimited.Add(1)
		if !srv.strike(s, now) {
			return
		}
	}
	f, err := verto.Decode(data, srv.lim)
	if err != nil {
		srv.metrics.badFrames.Add(1)
		if within && s.authed.Load() {
			// It weighs on its user's bound as a message does: else a
			// user's sockets send undecodable frames past it.
			within = srv.allowUser(s, 1, len(data), now)
		}
		e := &verto.Error{Code: verto.CodeInvalidRequest, Message: verto.MsgRateLimited}
		var id verto.ID
		var de *verto.DecodeError
		if errors.As(err, &de) {
			id = de.ID
			if within {
				e = de.RPC()
			}
		}
		s.sendMsg(verto.NewError(id, e))
		return
	}
	n := len(f.Msgs) + len(f.Errs)
	if within && n > 1 && !s.limiter.allow(n-1, lim.RatePerSec, lim.RateBurst, now) {
		within = false
		srv.metrics.rateLimited.Add(uint64(n - 1))
		if !srv.strike(s, now) {
			return
		}
	}
	if within && s.authed.Load() {
		// Within the socket's rate, over its user's (all its sockets
		// together, in messages or in bytes): refused, but the socket is
		// not struck for it. A message weighs its bytes and the identity
		// a relay adds to it (the login's userVariables, up to the
		// pre-login frame cap, and its directory variables): else a user
		// with a large identity sends more to the nodes than the bound.
		within = srv.allowUser(s, n, len(data)+n*s.userWeight, now)
	}
	if !within {
		srv.refuse(s, f, &verto.Error{Code: verto.CodeInvalidRequest, Message: verto.MsgRateLimited})
		return
	}
	if len(f.Errs) > 0 {
		srv.metrics.badFrames.Add(uint64(len(f.Errs)))
	}
	if !f.Batch {
		m := f.Msgs[0]
		srv.handle(s, m, replier{s: s, id: m.ID, slot: slotFor(m, 0)})
		return
	}
	// Lay out the batch: members in order, bad ones where they stood.
	b := &batchReply{s: s}
	bad := make(map[int]*verto.DecodeError, len(f.Errs))
	for _, e := range f.Errs {
		bad[e.Index] = e
	}
	type job struct {
		m *verto.Message
		r replier
	}
	var jobs []job
	mi := 0
	for i := 0; i < n; i++ {
		if e, ok := bad[i]; ok {
			b.msgs = append(b.msgs, verto.NewError(e.ID, e.RPC()))
			continue
		}
		m := f.Msgs[mi]
		mi++
		r := replier{s: s, id: m.ID, b: b, slot: -1}
		if slotFor(m, 0) == 0 {
			r.slot = len(b.msgs)
			b.msgs = append(b.msgs, nil)
			b.left++
		}
		jobs = append(jobs, job{m, r})
	}
	if b.left == 0 && len(b.msgs) > 0 {
		// Only bad members and notifications: answer now.
		if frame, err := verto.EncodeFrame(true, b.msgs...); err == nil {
			s.sendRaw(frame)
		}
	}
	for _, j := range jobs {
		srv.handle(s, j.m, j.r)
	}
}

// allowUser takes n messages of size bytes from the socket's user's
// buckets (all its sockets on this instance together), or counts the
// refusal.
func (srv *Server) allowUser(s *Session, n, size int, now int64) bool {
	ok, overBytes := srv.userMsgs.allow(s.userRate, n, size, now)
	switch {
	case ok:
	case overBytes:
		srv.metrics.userDataLimited.Add(uint64(n))
	default:
		srv.metrics.userLimited.Add(uint64(n))
	}
	return ok
}

// frameTooLarge answers a message over the size cap (read to its end and
// thrown away, size bytes): it counts against the rate limit like any
// frame, and its bytes weigh on its user's data bound as an undecodable
// frame's do; past either it is answered Rate limit exceeded.
func (srv *Server) frameTooLarge(s *Session, size int64) {
	srv.metrics.badFrames.Add(1)
	now := monoNanos(time.Now())
	lim := &srv.cfg.Limits
	within := s.limiter.allow(1, lim.RatePerSec, lim.RateBurst, now)
	if !within {
		srv.metrics.rateLimited.Add(1)
		if !srv.strike(s, now) {
			return
		}
	}
	if within && s.authed.Load() {
		within = srv.allowUser(s, 1, int(min(size, math.MaxInt32)), now)
	}
	msg := verto.MsgTooLarge
	if !within {
		msg = verto.MsgRateLimited
	}
	s.sendMsg(verto.NewError(verto.ID{}, &verto.Error{Code: verto.CodeInvalidRequest, Message: msg}))
}

// countFrame counts a peer's ping, pong or message fragment against the
// socket's rate as a message: each ping costs a pong, and a flood of any of
// them would take a core of XCtrl for one client. It reports whether to
// answer (a ping): yes until the socket is closed as a flood (strike).
func (srv *Server) countFrame(s *Session) bool {
	now := monoNanos(time.Now())
	lim := &srv.cfg.Limits
	if s.limiter.allow(1, lim.RatePerSec, lim.RateBurst, now) {
		return true
	}
	srv.metrics.rateLimited.Add(1)
	return srv.strike(s, now)
}

// strike counts a frame that came over the rate limit. A client that keeps
// sending at more than twice its rate (a second bucket of the same size runs
// dry) is a flood, not a burst: its socket is closed and strike says false.
func (srv *Server) strike(s *Session, now int64) bool {
	lim := &srv.cfg.Limits
	if s.strikes.allow(1, lim.RatePerSec, lim.RateBurst, now) {
		return true
	}
	if !s.closed.Load() {
		s.logger().Warn("flood: closing a socket that keeps sending over its rate limit", "rate", lim.RatePerSec, "burst", lim.RateBurst)
		s.closeAfterFlush(websocket.ClosePolicyViolation, verto.MsgRateLimited)
	}
	return false
}

// slotFor: requests get a reply, notifications and client acks do not.
func slotFor(m *verto.Message, slot int) int {
	if m.Kind() != verto.KindRequest {
		return -1
	}
	return slot
}

// refuse answers every request of a frame with e.
func (srv *Server) refuse(s *Session, f *verto.Frame, e *verto.Error) {
	var out []*verto.Message
	for _, m := range f.Msgs {
		if m.Kind() == verto.KindRequest {
			out = append(out, verto.NewError(m.ID, e))
		}
	}
	for _, de := range f.Errs {
		out = append(out, verto.NewError(de.ID, de.RPC()))
	}
	switch {
	case len(out) == 0:
	case !f.Batch:
		s.sendMsg(out[0])
	default:
		if frame, err := verto.EncodeFrame(true, out...); err == nil {
			s.sendRaw(frame)
		}
	}
}

// handle dispatches one client message.
func (srv *Server) handle(s *Session, m *verto.Message, r replier) {
	if k := m.Kind(); k == verto.KindResult || k == verto.KindError {
		return // acks of our requests: nothing to do, as in mod_verto
	}
	id := s.Identity()
	if m.Method != verto.MethodLogin {
		if id == nil {
			r.fail(verto.ErrAuthRequired)
			return
		}
		if !id.MethodAllowed(m.Method) {
			r.fail(verto.ErrMethodNotFound)
			return
		}
	}
	switch m.Method {
	case verto.MethodLogin:
		// Login goes deep (directory, tokens, registry): run it on a
		// short-lived goroutine so that the socket's long-lived reader
		// keeps a small stack while it idles. The reader waits: nothing
		// else of this socket is handled before the login is.
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.login(s, m, r)
		}()
		<-done
	case verto.MethodPing:
		res := verto.MessageResult{Message: "PONG", Sessid: s.Sessid()}
		if !id.Expires.IsZero() {
			res.AuthExpires = id.Expires.Unix()
		}
		r.result(res)
	case verto.MethodEcho:
		if len(m.Params) == 0 {
			r.fail(&verto.Error{Code: verto.CodeSessionError, Message: verto.MsgParamsMissing})
			return
		}
		res, err := verto.EditParams(m.Params, func(o *verto.Object) { o.Set(verto.KeySessid, s.Sessid()) })
		if err != nil {
			res = m.Params
		}
		r.send(&verto.Message{JSONRPC: verto.Version, ID: m.ID, Result: res})
	case verto.MethodInvite:
		srv.invite(s, m, r)
	case verto.MethodAnswer, verto.MethodBye, verto.MethodModify, verto.MethodAttach, verto.MethodInfo:
		srv.callScoped(s, m, r)
	case verto.MethodSubscribe:
		srv.subscribe(s, m, r)
	case verto.MethodUnsubscribe:
		srv.unsubscribe(s, m, r)
	case verto.MethodBroadcast:
		srv.broadcast(s, m, r)
	case verto.MethodJSAPI, verto.MethodFSAPI:
		srv.api(s, m, r)
	default:
		r.fail(verto.ErrMethodNotFound)
	}
}

// callInfo is what routing reads from a call method's params.
type callInfo struct {
	obj      verto.Object
	callID   string
	dest     string
	nodeUUID string
	dialog   bool
	sdp      bool
	userVars int // members of dialogParams.userVariables
	// userVarBytes is the size of dialogParams.userVariables as sent.
	userVarBytes int
	// caller is the first of dialogParams' verto.CallerKeys out of
	// bounds, read on an invite only (parseCall's invite): verto.js
	// repeats its dialogParams in every message of a call, FreeSWITCH's
	// caller ids too on a call placed to it.
	caller error
}

// parseCall reads a call method's params; invite says it is an invite's,
// whose caller is checked (callInfo.caller).
func parseCall(params json.RawMessage, invite bool) (*callInfo, error) {
	ci := &callInfo{}
	if len(params) == 0 {
		return ci, nil
	}
	if err := ci.obj.UnmarshalJSON(params); err != nil {
		return nil, err
	}
	ci.nodeUUID = ci.obj.String(verto.KeyNodeUUID)
	// A JSON string longer than "" is not empty: the SDP is not copied to
	// be tested.
	sdp, _ := ci.obj.Raw("sdp")
	ci.sdp = len(sdp) > 2 && sdp[0] == '"'
	if raw, ok := ci.obj.Raw("dialogParams"); ok && len(raw) > 0 && raw[0] == '{' {
		ci.dialog = true
		// Only four keys of it are read: scanned, not made an Object.
		var callID, dest, node, vars json.RawMessage
		if verto.EachMember(raw, func(key []byte, val json.RawMessage) error {
			switch string(key) {
			case verto.KeyCallID:
				callID = val
			case "destination_number":
				dest = val
			case verto.KeyNodeUUID:
				node = val
			case "userVariables":
				vars = val
			default:
				if invite && ci.caller == nil && len(val) > 0 && val[0] == '"' && slices.Contains(verto.CallerKeys, string(key)) {
					s, _ := verto.StringValue(val)
					ci.caller = verto.CheckParty(string(key), s)
				}
			}
			return nil
		}) == nil {
			if len(vars) > 0 && vars[0] == '{' {
				ci.userVarBytes = len(vars)
				_ = verto.EachMember(vars, func([]byte, json.RawMessage) error { ci.userVars++; return nil })
			}
			ci.callID, _ = verto.StringValue(callID)
			ci.dest, _ = verto.StringValue(dest)
			if ci.nodeUUID == "" {
				ci.nodeUUID, _ = verto.StringValue(node)
			}
		}
	}
	if ci.callID == "" {
		ci.callID = ci.obj.String(verto.KeyCallID)
	}
	return ci, nil
}

// checkIdents bounds the identifiers a call message brings (the callID
// becomes a channel UUID and a map key; node_uuid is only looked up).
func (ci *callInfo) checkIdents() error {
	if ci.callID != "" {
		if err := verto.CheckCallID(ci.callID); err != nil {
			return err
		}
	}
	if ci.dest != "" {
		if err := verto.CheckDest("destination_number", ci.dest); err != nil {
			return err
		}
	}
	if err := verto.CheckUserVariables(ci.userVars); err != nil {
		return err
	}
	return verto.CheckUserVariablesBytes(ci.userVarBytes)
}

// checkTransfer bounds a verto.modify transfer's destination as an
// invite's destination_number: it is one, for the call's partner. A
// destination that is not a string is the node's to refuse.
func checkTransfer(o *verto.Object) error {
	if o.String("action") != verto.ActionTransfer {
		return nil
	}
	if dest := o.String("destination"); dest != "" {
		return verto.CheckDest("destination", dest)
	}
	return nil
}

// checkInfo bounds a verto.info's dtmf (verto.MaxDTMFLen: FreeSWITCH logs
// a line for each digit, and 60 KB of them put 45,000 lines and more in its
// log) and its chat message's addresses (verto.CheckChat: the switch's chat
// plan may send them on in a SIP MESSAGE). Digits or a msg that are not
// what they should be are the node's to refuse.
func checkInfo(o *verto.Object) error {
	if d := o.String("dtmf"); d != "" {
		if err := verto.CheckDTMF(d); err != nil {
			return err
		}
	}
	if raw, ok := o.Raw("msg"); ok && len(raw) > 0 && raw[0] == '{' {
		msg, err := verto.ParseObject(raw)
		if err != nil {
			return err
		}
		return verto.CheckChat(msg)
	}
	return nil
}

func sessionError(msg string) *verto.Error {
	return &verto.Error{Code: verto.CodeSessionError, Message: msg}
}

// invite places a client's call on a node.
func (srv *Server) invite(s *Session, m *verto.Message, r replier) {
	ci, err := parseCall(m.Params, true)
	switch {
	case err != nil || len(m.Params) == 0:
		r.fail(sessionError(verto.MsgParamsMissing))
		return
	case !ci.dialog:
		r.fail(sessionError(verto.MsgDialogMissing))
		return
	case ci.callID == "":
		r.fail(sessionError(verto.MsgCallIDMissing))
		return
	case !ci.sdp:
		r.fail(sessionError(verto.MsgSDPMissing))
		return
	}
	if err := ci.checkIdents(); err != nil {
		r.fail(verto.IdentRPC(err))
		return
	}
	if ci.caller != nil {
		r.fail(verto.IdentRPC(ci.caller))
		return
	}
	id := s.Identity()
	now := time.Now()
	if ok, warn := srv.invites.allow(id.User.Login, now); !ok {
		srv.metrics.invitesLimited.Add(1)
		if warn {
			s.logger().Warn("invites refused: over the rate of one user (--invite-rate-per-user); logged once in 10 s",
				"login", id.User.Login, "callID", ci.callID)
		}
		r.fail(sessionError(verto.MsgRateLimited).With(verto.KeyCallID, ci.callID))
		return
	}
	dest := ci.dest
	if dest == "" {
		dest = "service" // mod_verto's default destination
	}
	key := dest + "@" + id.User.Domain
	node := ""
	switch {
	case ci.nodeUUID != "" && srv.nodes.Accepting(ci.nodeUUID, now):
		node = ci.nodeUUID
	default:
		if n, ok := srv.router.Sticky(key); ok && srv.nodes.Accepting(n, now) {
			node = n
		} else if n, ok := srv.nodes.Choose(key, now); ok {
			node = n
		}
	}
	if node == "" {
		r.fail(sessionError(verto.MsgNoNode).With(verto.KeyCallID, ci.callID))
		return
	}
	switch srv.router.Place(ci.callID, node, key, s, id.User.Login, srv.cfg.Limits.MaxCallsPerUser) {
	case placedAlready:
		// The callID is a call this instance routes already: the node
		// would refuse to create it again, and the invite must not touch
		// the call's mapping (before, its failure released the mapping,
		// and an invite from another socket joined the call's sockets:
		// anyone who learnt a callID could do both).
		r.fail(sessionError(verto.MsgCannotCreate).With(verto.KeyCallID, ci.callID))
		return
	case placeTooMany:
		srv.metrics.callsLimited.Add(1)
		if srv.callsWarned.now(now) {
			s.logger().Warn("invite refused: the user holds --max-calls-per-user calls on this instance; logged once in 10 s",
				"login", id.User.Login, "callID", ci.callID, "max", srv.cfg.Limits.MaxCallsPerUser)
		}
		r.fail(sessionError(verto.MsgTooManyCalls).With(verto.KeyCallID, ci.callID))
		return
	}
	srv.placeInvite(s, m, r, ci, key, node, true)
}

// placeInvite sends a client's invite to node. An invite that found nobody
// there (no responders: the node died, nothing was created) is tried once
// on another node; the callID keeps a node from creating a call twice.
func (srv *Server) placeInvite(s *Session, m *verto.Message, r replier, ci *callInfo, key, node string, mayRetry bool) {
	if srv.log.Enabled(srv.ctx, slog.LevelDebug) {
		srv.log.Debug("invite", "callID", ci.callID, "node_uuid", node, "sessid", s.Sessid(), "destination", key)
	}
	s.sendRequest(verto.MethodTrying, mustJSON(verto.TryingParams{CallID: ci.callID, NodeUUID: node}))
	callID := ci.callID
	srv.relay(s, m, &ci.obj, node, srv.subj.Node(node), srv.cfg.Timers.Invite, r, func(reply *verto.Message, err error) *verto.Message {
		if mayRetry && errors.Is(err, ErrNoResponders) {
			if next, ok := srv.nodes.Choose(key, time.Now(), node); ok {
				srv.log.Warn("invite found no one on its node; trying another", "callID", callID, "node_uuid", node, "next", next)
				srv.router.Move(callID, next)
				srv.placeInvite(s, m, r, ci, key, next, false)
				return repliedElsewhere
			}
		}
		if err != nil || reply.Error != nil || reply.Result == nil {
			srv.router.Release(callID)
			return nil
		}
		srv.router.SetState(callID, stateCreated)
		return nil
	})
}

// repliedElsewhere, returned by a relay's done callback, says the reply to
// the client is sent by someone else (a retried invite).
var repliedElsewhere = &verto.Message{}

// callScoped relays a message about an existing call to the call's node:
// params.node_uuid when given and alive, else the callID map.
func (srv *Server) callScoped(s *Session, m *verto.Message, r replier) {
	ci, err := parseCall(m.Params, false)
	if err != nil {
		r.fail(sessionError(verto.MsgParamsMissing))
		return
	}
	if err := ci.checkIdents(); err != nil {
		r.fail(verto.IdentRPC(err))
		return
	}
	var checked error
	switch m.Method {
	case verto.MethodModify:
		checked = checkTransfer(&ci.obj)
	case verto.MethodInfo:
		checked = checkInfo(&ci.obj)
	}
	if checked != nil {
		r.fail(verto.IdentRPC(checked))
		return
	}
	if ci.callID == "" {
		if m.Method == verto.MethodInfo {
			srv.relay(s, m, &ci.obj, "", srv.subj.AnyNode(), srv.cfg.Timers.Request, r, nil)
			return
		}
		r.fail(verto.ErrCallNotExist)
		return
	}
	now := time.Now()
	node := ""
	if ci.nodeUUID != "" && srv.nodes.Alive(ci.nodeUUID, now) {
		node = ci.nodeUUID
	} else if n, ok := srv.router.Node(ci.callID); ok {
		node = n
	}
	if node == "" {
		r.fail(verto.ErrCallNotExist.With(verto.KeyCallID, ci.callID))
		return
	}
	callID, method := ci.callID, m.Method
	srv.relay(s, m, &ci.obj, node, srv.subj.Node(node), srv.cfg.Timers.Request, r, func(reply *verto.Message, err error) *verto.Message {
		switch {
		case method == verto.MethodBye:
			srv.router.Drop(callID, s)
		case err != nil:
		case reply.Error != nil:
			if reply.Error.Message == verto.MsgCallNotExist {
				srv.router.Drop(callID, s)
			}
		case method == verto.MethodAnswer || method == verto.MethodAttach:
			srv.router.Hold(callID, node, s, stateAnswered)
		default:
			if _, ok := srv.router.Node(callID); !ok {
				// Routed by the client's node_uuid (a reload onto this
				// instance): map it from now on.
				srv.router.Hold(callID, node, s, stateAnswered)
			}
		}
		return nil
	})
}

// relay sends a client request to a node (subject) with the identity XCtrl
// asserts, and writes the node's reply back with the client's id and the
// socket's sessid. done, if set, sees the reply first and may replace it.
func (srv *Server) relay(s *Session, m *verto.Message, o *verto.Object, node, subject string, timeout time.Duration,
	r replier, done func(reply *verto.Message, err error) *verto.Message) {
	start := time.Now()
	s.mu.Lock()
	sessid, user := s.sessid, s.userRaw
	s.mu.Unlock()
	o.SetRaw(verto.KeySessid, jsonString(sessid))
	o.SetRaw(verto.KeyCtrlUUID, srv.uuidJSON)
	if node != "" {
		o.SetRaw(verto.KeyNodeUUID, jsonString(node))
	}
	o.SetRaw(verto.KeyXrtcUser, user)
	rid := srv.reqs.NextID()
	bp := requestBufs.Get().(*[]byte)
	payload := requestFrame((*bp)[:0], rid, m.Method, o)
	defer func() {
		if cap(payload) <= maxPooledRequest {
			*bp = payload[:0]
			requestBufs.Put(bp)
		}
	}()
	srv.metrics.relayedToNode(m.Method)
	clientID := m.ID
	srv.reqs.Send(subject, rid, payload, timeout, func(bm *BusMsg, err error) {
		var reply *verto.Message
		if err == nil {
			reply, err = verto.DecodeMessage(bm.Data, busLimits)
			if err == nil && reply.Result == nil && reply.Error == nil {
				err = errors.New("ctrl: node answered with a request")
			}
		}
		if err != nil {
			srv.log.Warn("relay failed", "method", m.Method, "sessid", sessid, "node_uuid", node, "subject", subject, "err", err)
		}
		if node != "" {
			srv.nodeOutcome(node, err)
		}
		var out *verto.Message
		if done != nil {
			out = done(reply, err)
		}
		switch {
		case out == repliedElsewhere:
		case out != nil:
			r.send(out)
		default:
			// The common case is written straight: the node's result
			// object with the socket's sessid (and node_uuid) added.
			if err == nil && reply.Error == nil && r.b == nil && r.slot >= 0 && len(reply.Result) > 0 && reply.Result[0] == '{' {
				if f, ok := resultFrame(clientID, reply.Result, node, sessid); ok {
					r.s.sendRaw(f)
					break
				}
			}
			r.send(srv.clientReply(clientID, reply, err, sessid, node))
		}
		srv.metrics.relay.observe(time.Since(start))
	})
}

// busLimits bound what XCtrl accepts from the bus (the embedded server's
// payload limit).
var busLimits = verto.Limits{MaxBytes: 4 << 20}

// clientReply turns a node's reply (or a relay failure) into the reply to
// the client.
func (srv *Server) clientReply(id verto.ID, reply *verto.Message, err error, sessid, node string) *verto.Message {
	if err != nil {
		switch {
		case errors.Is(err, ErrTimeout):
			srv.metrics.nodeTimeout.Add(1)
			return verto.NewError(id, sessionError(verto.MsgNodeTimeout))
		default:
			return verto.NewError(id, sessionError(verto.MsgNoNode))
		}
	}
	if reply.Error != nil {
		return verto.NewError(id, reply.Error)
	}
	res := reply.Result
	if len(res) > 0 && res[0] == '{' {
		if edited, err := verto.EditParams(res, func(o *verto.Object) {
			if node != "" && !o.Has(verto.KeyNodeUUID) {
				o.Set(verto.KeyNodeUUID, node)
			}
			o.Set(verto.KeySessid, sessid)
		}); err == nil {
			res = edited
		}
	}
	return &verto.Message{JSONRPC: verto.Version, ID: id, Result: res}
}

// api relays jsapi / fsapi to any node when enabled and allowed by the
// user's jsonrpc-allowed-jsapi / -fsapi as mod_verto checks them.
func (srv *Server) api(s *Session, m *verto.Message, r replier) {
	id := s.Identity()
	enabled := srv.cfg.EnableFSAPI
	if m.Method == verto.MethodJSAPI {
		enabled = srv.cfg.EnableJSAPI
	}
	if !enabled {
		r.fail(verto.ErrMethodNotFound)
		return
	}
	var o verto.Object
	if len(m.Params) > 0 {
		if err := o.UnmarshalJSON(m.Params); err != nil {
			r.fail(verto.ErrPermission)
			return
		}
	}
	allowed := id.JSAPIAllowed(&o)
	if m.Method != verto.MethodJSAPI && o.Has("cmd") {
		allowed = id.FSAPIAllowed(o.String("cmd"), o.String("arg"))
	}
	if !allowed {
		r.fail(verto.ErrPermission)
		return
	}
	srv.relay(s, m, &o, "", srv.subj.AnyNode(), srv.cfg.Timers.Request, r, nil)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}
