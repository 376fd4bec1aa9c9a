package ctrl

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"xccrtc/verto"
)

// onCtrl handles cn.xswitch.ctrl.<ctrl_uuid>: node->client Verto requests,
// control notifications, and invites forwarded by another instance. It runs
// on the bus's dispatch goroutine: nothing here may block.
func (srv *Server) onCtrl(bm *BusMsg) {
	msg, err := verto.DecodeMessage(bm.Data, busLimits)
	if err != nil {
		srv.log.Warn("bad message from the bus", "subject", bm.Subject, "err", err)
		if de, ok := err.(*verto.DecodeError); ok {
			srv.replyBus(bm.Reply, verto.NewError(de.ID, de.RPC()))
		}
		return
	}
	if k := msg.Kind(); k == verto.KindResult || k == verto.KindError {
		return // a late or async result: our requests use the reply inbox
	}
	switch msg.Method {
	case verto.MethodXrtcPunt:
		srv.onPunt(msg)
		return
	case verto.MethodXrtcPing:
		srv.onPing(bm, msg)
		return
	case verto.MethodXrtcAnswered:
		srv.onAnswered(msg)
		return
	case verto.MethodXrtcContact:
		srv.goRing(func(ctx context.Context) { srv.onContact(ctx, bm, msg) })
		return
	}
	if !strings.HasPrefix(msg.Method, "verto.") {
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, verto.ErrMethodNotFound))
		return
	}
	var o verto.Object
	if len(msg.Params) > 0 {
		if err := o.UnmarshalJSON(msg.Params); err != nil {
			srv.replyBus(bm.Reply, verto.NewError(msg.ID, &verto.Error{Code: verto.CodeInvalidParams, Message: err.Error()}))
			return
		}
	}
	if msg.Method == verto.MethodInvite {
		// A call to a user, or with a sessid to one socket (ring.go).
		fwd := o.String(verto.KeyForwardedBy)
		srv.goRing(func(ctx context.Context) { srv.ring(ctx, bm, msg, &o, fwd != "") })
		return
	}
	srv.deliver(bm, msg, &o)
}

// onRTC handles the queue subject of calls to WebRTC users, and the
// nodes' questions about users' sockets (xrtc.contact, contact.go).
func (srv *Server) onRTC(bm *BusMsg) {
	msg, err := verto.DecodeMessage(bm.Data, busLimits)
	if err != nil {
		if de, ok := err.(*verto.DecodeError); ok {
			srv.replyBus(bm.Reply, verto.NewError(de.ID, de.RPC()))
		}
		return
	}
	if msg.Method == verto.MethodXrtcContact {
		srv.goRing(func(ctx context.Context) { srv.onContact(ctx, bm, msg) })
		return
	}
	if msg.Method != verto.MethodInvite && msg.Method != verto.MethodAttach {
		if msg.Kind() == verto.KindRequest {
			srv.replyBus(bm.Reply, verto.NewError(msg.ID, verto.ErrMethodNotFound))
		}
		return
	}
	var o verto.Object
	if len(msg.Params) > 0 {
		if err := o.UnmarshalJSON(msg.Params); err != nil {
			srv.replyBus(bm.Reply, verto.NewError(msg.ID, &verto.Error{Code: verto.CodeInvalidParams, Message: err.Error()}))
			return
		}
	}
	if msg.Method == verto.MethodAttach {
		// a recovered call looks for its client (recovery.go)
		srv.goRing(func(ctx context.Context) { srv.attachBySessid(ctx, bm, msg, &o) })
		return
	}
	srv.goRing(func(ctx context.Context) { srv.ring(ctx, bm, msg, &o, false) })
}

// goRing runs a ring (it waits on the registry and other instances) off the
// dispatch goroutine.
func (srv *Server) goRing(f func(ctx context.Context)) {
	srv.loops.Add(1)
	go func() {
		defer srv.loops.Done()
		ctx, cancel := context.WithTimeout(srv.ctx, srv.cfg.Timers.Forward+time.Second)
		defer cancel()
		f(ctx)
	}()
}

// deliver writes a node's message to the socket it names (params.sessid),
// or to every local socket that rings or holds its call, and keeps the
// routing state in step.
func (srv *Server) deliver(bm *BusMsg, msg *verto.Message, o *verto.Object) {
	sessid := o.String(verto.KeySessid)
	callID := o.String(verto.KeyCallID)
	node := o.String(verto.KeyNodeUUID)
	if node != "" && verto.CheckToken(verto.KeyNodeUUID, node) != nil {
		// Routing state must never hold a subject NATS would refuse.
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, verto.IdentRPC(verto.CheckToken(verto.KeyNodeUUID, node))))
		return
	}
	var targets []*Session
	switch {
	case sessid != "":
		if s := srv.sessions.Get(sessid); s != nil {
			targets = []*Session{s}
		}
	case callID != "":
		targets = srv.router.Sockets(callID)
	}
	if len(targets) == 0 {
		if msg.Method == verto.MethodBye && callID != "" && sessid == "" {
			srv.router.Release(callID)
		}
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, sessionError(verto.MsgSessionNotFound)))
		return
	}
	switch msg.Method {
	case verto.MethodAttach, verto.MethodAnswer:
		if callID != "" && node != "" {
			for _, t := range targets {
				srv.router.Hold(callID, node, t, stateAnswered)
			}
		}
	case verto.MethodInvite, verto.MethodMedia:
		if callID != "" && node != "" {
			if _, ok := srv.router.Node(callID); !ok || msg.Method == verto.MethodInvite {
				for _, t := range targets {
					srv.router.Hold(callID, node, t, stateRinging)
				}
			}
		}
	case verto.MethodEvent:
		if node != "" {
			srv.learnChannels(node, targets[0], o)
		}
	}
	// The call leaves the map before its bye goes out: a socket may be
	// written on this goroutine, and what it does next must find the call
	// gone.
	if msg.Method == verto.MethodBye && callID != "" {
		if sessid != "" {
			srv.router.Drop(callID, targets[0])
		} else {
			srv.router.Release(callID)
		}
	}
	for _, t := range targets {
		t.sendRequest(msg.Method, msg.Params)
	}
	if bm.Reply != "" {
		res, _ := verto.NewResult(msg.ID, map[string]any{"code": 200, "message": verto.MsgSent, verto.KeyCtrlUUID: srv.uuid})
		srv.replyBus(bm.Reply, res)
	}
}

// learnChannels records the conference channels of a join (or forgets them
// on a part) so that subscribe and broadcast reach the owning node.
func (srv *Server) learnChannels(node string, s *Session, o *verto.Object) {
	raw, ok := o.Raw("pvtData")
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return
	}
	var pvt verto.PvtData
	if json.Unmarshal(raw, &pvt) != nil {
		return
	}
	switch pvt.Action {
	case verto.PvtActionJoin:
		srv.router.JoinChannels(node, s, pvt.Channels())
		s.grant(pvt.Channels(), true)
	case verto.PvtActionPart:
		srv.router.PartChannels(s, pvt.Channels())
		s.grant(pvt.Channels(), false)
	}
}

// onPunt: another instance took a sessid over; punt our socket.
func (srv *Server) onPunt(msg *verto.Message) {
	var p verto.ControlParams
	if msg.DecodeParams(&p) != nil || p.Sessid == "" || p.CtrlUUID == srv.uuid {
		return
	}
	s := srv.sessions.Get(p.Sessid)
	if s == nil {
		return
	}
	if p.XrtcUser != nil && p.XrtcUser.Login != "" && p.XrtcUser.Login != s.loginName() {
		return
	}
	s.punt()
}

// onAnswered: a call that rang on several sockets was answered; every other
// local socket gets verto.bye LOSE_RACE.
func (srv *Server) onAnswered(msg *verto.Message) {
	var p verto.AnsweredParams
	if msg.DecodeParams(&p) != nil || p.CallID == "" {
		return
	}
	for _, s := range srv.router.Sockets(p.CallID) {
		if p.CtrlUUID == srv.uuid && s.Sessid() == p.Sessid {
			srv.router.SetState(p.CallID, stateAnswered)
			continue
		}
		s.sendRequest(verto.MethodBye, mustJSON(verto.ServerCallParams{CallID: p.CallID,
			Cause: verto.CauseLoseRace.String(), CauseCode: int(verto.CauseLoseRace), NodeUUID: p.NodeUUID}))
		srv.router.Drop(p.CallID, s)
	}
}

// onStatus tracks nodes from their status messages.
func (srv *Server) onStatus(bm *BusMsg) {
	msg, err := verto.DecodeMessage(bm.Data, busLimits)
	if err != nil {
		return
	}
	var n verto.Node
	if msg.DecodeParams(&n) != nil || n.UUID == "" {
		return
	}
	if err := verto.CheckToken(verto.KeyNodeUUID, n.UUID); err != nil {
		srv.log.Warn("node status ignored", "err", err)
		return
	}
	switch msg.Method {
	case verto.MethodNodeRegister, verto.MethodNodeUpdate:
		if srv.nodes.Answered(n.UUID) {
			srv.goLoop(func() { srv.reconcile(n.UUID) })
		}
		if srv.nodes.Update(n, time.Now()) || msg.Method == verto.MethodNodeRegister {
			srv.log.Info("node up", "node_uuid", n.UUID, "name", n.Name, "sessions", n.Sessions)
			srv.goLoop(func() { srv.replaySubscriptions(n.UUID) }) // subscriptions.go
		}
	case verto.MethodNodeUnregister:
		if srv.nodes.Remove(n.UUID) {
			srv.log.Info("node unregistered", "node_uuid", n.UUID)
			srv.nodeGone(n.UUID, verto.CauseNetworkOutOfOrder)
		}
	}
}

// nodeGone ends the calls of a node that left or died: their sockets get
// verto.bye and the map entries go.
func (srv *Server) nodeGone(node string, cause verto.Cause) {
	for _, rc := range srv.router.ReleaseNode(node) {
		params := mustJSON(verto.ServerCallParams{CallID: rc.callID, Cause: cause.String(), CauseCode: int(cause), NodeUUID: node})
		for _, s := range rc.socks {
			s.sendRequest(verto.MethodBye, params)
		}
		srv.log.Info("call ended: node gone", "callID", rc.callID, "node_uuid", node, "sockets", len(rc.socks))
	}
}

// sessionClosed forgets a socket: tables, routing, registry (unless its
// sessid was taken over), and tells every live node to detach its calls.
func (srv *Server) sessionClosed(s *Session) {
	s.mu.Lock()
	sessid, id, lease, punted, ur := s.sessid, s.ident, s.lease, s.punted, s.userRate
	s.mu.Unlock()
	// The socket's reader may still read userRate (finish runs once;
	// the bucket stays usable after its release).
	srv.userMsgs.release(ur)
	if id != nil {
		// Tell the nodes before the sessid leaves the table: a new login
		// of this sessid on this instance then either finds this socket
		// (and waits for it to be gone) or comes after the detach, so its
		// xrtc.login never overtakes this xrtc.detach. Only the nodes that
		// know the socket hear it: those of its calls and of its
		// subscriptions.
		m, err := verto.NewNotification(verto.MethodXrtcDetach, verto.ControlParams{Sessid: sessid, CtrlUUID: srv.uuid})
		if err == nil {
			b, _ := m.Marshal()
			for _, n := range srv.socketNodes(s) {
				_ = srv.bus.Publish(srv.subj.Node(n), "", b)
			}
		}
	}
	srv.sessions.Remove(s, sessid)
	srv.router.SessionClosed(s)
	if id == nil {
		return
	}
	if lease != nil {
		if punted {
			srv.registrar.Forget(lease) // the new owner wrote the keys: leave them
		} else {
			srv.registrar.Remove(lease)
		}
	}
	srv.log.Info("socket closed", "sessid", sessid, "login", id.User.Login)
}

// socketNodes are the live nodes that know a socket: those of its calls,
// of its conference channels, and, when it subscribed channels nobody owns
// (presence), every live node (the subscription went to all of them).
func (srv *Server) socketNodes(s *Session) []string {
	now := time.Now()
	set := map[string]bool{}
	for _, n := range srv.router.NodesOf(s) {
		set[n] = true
	}
	s.mu.Lock()
	subs := make([]string, 0, len(s.subs))
	for ch := range s.subs {
		subs = append(subs, ch)
	}
	s.mu.Unlock()
	for _, ch := range subs {
		if n, ok := srv.router.ChannelNode(ch); ok {
			set[n] = true
			continue
		}
		return srv.nodes.Live(now)
	}
	out := make([]string, 0, len(set))
	for n := range set {
		if srv.nodes.Alive(n, now) {
			out = append(out, n)
		}
	}
	return out
}

// replyBus answers a bus request (when it has a reply subject).
func (srv *Server) replyBus(reply string, m *verto.Message) {
	if reply == "" || m == nil {
		return
	}
	b, err := m.Marshal()
	if err != nil {
		return
	}
	_ = srv.bus.Publish(reply, "", b)
}
