package ctrl

import (
	"errors"
	"strconv"
	"time"

	"xccrtc/verto"
)

// Node liveness on the bus. Status messages (every 20 s) say a node is
// there; NATS itself says when it is not: a request to a node that nobody
// subscribes any more gets "no responders" at once. So XCtrl probes every
// node each Timers.NodeProbe, and every request to a node reports its
// outcome:
//
//   - no responders, or a timeout: the node is suspect at once and takes no
//     new call while another node can (a call that found nobody is tried
//     once on another node);
//   - a reply (or a status message): not suspect any more; if it was, XCtrl
//     reconciles its calls with the node;
//   - no responders for Timers.NodeDead without a break: the node is dead
//     and its calls end, as after 45 s of silence.
//
// None of this runs while XCtrl itself is off the bus: its own outage says
// nothing about the nodes. When it is back it counts every node as just
// heard from and reconciles the calls of each.

// busConnected reports whether this instance is on the bus (a Deps.Bus is
// taken as always connected).
func (srv *Server) busConnected() bool {
	return srv.nbus == nil || srv.nbus.Connected()
}

// probeNodes sends one xrtc.ping to every alive node.
func (srv *Server) probeNodes(now time.Time) {
	if !srv.busConnected() {
		return
	}
	params := mustJSON(map[string]string{verto.KeyCtrlUUID: srv.uuid})
	timeout := max(srv.cfg.Timers.NodeProbe, 500*time.Millisecond)
	for _, node := range srv.nodes.Live(now) {
		id := srv.reqs.NextID()
		b, err := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
			Method: verto.MethodPing, Params: params}).Marshal()
		if err != nil {
			return
		}
		srv.reqs.Send(srv.subj.Node(node), id, b, timeout, func(_ *BusMsg, err error) {
			srv.nodeOutcome(node, err)
		})
	}
}

// nodeOutcome takes the outcome of a request to a node.
func (srv *Server) nodeOutcome(node string, err error) {
	now := time.Now()
	switch {
	case err == nil:
		if srv.nodes.Answered(node) {
			srv.log.Info("node answers again", "node_uuid", node)
			srv.goLoop(func() { srv.reconcile(node) })
		}
	case errors.Is(err, ErrNoResponders):
		if !srv.busConnected() {
			return
		}
		if srv.nodes.Suspect(node, now) {
			srv.metrics.nodeSuspect.Add(1)
			srv.log.Warn("node has no responders: suspect, no new calls for it", "node_uuid", node)
		}
		if d := srv.nodes.SuspectFor(node, now); d >= srv.cfg.Timers.NodeDead {
			if srv.nodes.Remove(node) {
				srv.log.Warn("node gone from the bus: dead", "node_uuid", node, "for", d)
				srv.nodeGone(node, verto.CauseNetworkOutOfOrder)
			}
		}
	case errors.Is(err, ErrTimeout):
		if srv.busConnected() && srv.nodes.Suspect(node, now) {
			srv.metrics.nodeSuspect.Add(1)
			srv.log.Warn("node does not answer in time: suspect, no new calls for it", "node_uuid", node)
		}
	}
}

// expireNodes ends the calls of nodes silent longer than the expiry, unless
// this instance is the one off the bus.
func (srv *Server) expireNodes(now time.Time) {
	if !srv.busConnected() {
		return
	}
	if srv.nbus != nil && srv.nbus.TakeWasOff() {
		// Back on the bus: the nodes' silence meanwhile was ours. They
		// answer XNode.CtrlStartUp (sent by busUp) with a status at once.
		srv.nodes.Touch(now)
		return
	}
	for _, id := range srv.nodes.Expire(now) {
		srv.log.Warn("node silent: dead", "node_uuid", id)
		srv.nodeGone(id, verto.CauseNetworkOutOfOrder)
	}
}

// reconcile asks a node which of this instance's calls it still has: calls
// it lost get verto.bye on their sockets; calls it detached while XCtrl was
// unreachable (it took the sockets for gone) are re-attached with an
// xrtc.login for their sessid, since the sockets are still here.
func (srv *Server) reconcile(node string) {
	mapped := srv.router.OnNode(node)
	params := mustJSON(map[string]string{verto.KeyCtrlUUID: srv.uuid})
	id := srv.reqs.NextID()
	b, err := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
		Method: verto.MethodXrtcCalls, Params: params}).Marshal()
	if err != nil {
		return
	}
	rep, err := srv.reqs.Do(srv.ctx, srv.subj.Node(node), id, b, srv.cfg.Timers.Request)
	if err != nil {
		srv.log.Warn("reconcile: node did not answer", "node_uuid", node, "err", err)
		return
	}
	msg, err := verto.DecodeMessage(rep.Data, busLimits)
	var cr verto.CallsReply
	if err != nil || msg.DecodeResult(&cr) != nil {
		// A node that does not know xrtc.calls: nothing to compare.
		return
	}
	has := make(map[string]verto.CallState, len(cr.Calls))
	for _, c := range cr.Calls {
		has[c.CallID] = c
	}
	relogin := map[string]*Session{}
	ended := 0
	for _, mc := range mapped {
		st, ok := has[mc.callID]
		switch {
		case !ok && mc.state != stateTrying:
			// The node ended it while its bye could not reach us.
			rc, released := srv.router.Release(mc.callID)
			if !released {
				continue
			}
			params := mustJSON(verto.ServerCallParams{CallID: mc.callID, Cause: verto.CauseNormalClearing.String(),
				CauseCode: int(verto.CauseNormalClearing), NodeUUID: node})
			for _, s := range rc.socks {
				s.sendRequest(verto.MethodBye, params)
			}
			ended++
		case ok && st.State == "detached":
			for _, s := range mc.socks {
				if sid := s.Sessid(); sid != "" && !s.closed.Load() {
					relogin[sid] = s
				}
			}
		}
	}
	for sessid, s := range relogin {
		s.mu.Lock()
		user := s.userRaw
		s.mu.Unlock()
		srv.xrtcLogin(node, sessid, user)
	}
	if ended > 0 || len(relogin) > 0 {
		srv.log.Info("reconciled calls with a node", "node_uuid", node, "ended", ended, "reattached_sockets", len(relogin))
	}
}

// xrtcLogin sends one node the xrtc.login of a sessid (its detached calls
// are offered again with verto.attach).
func (srv *Server) xrtcLogin(node, sessid string, user []byte) {
	id := srv.reqs.NextID()
	params := mustJSON(struct {
		Sessid   string          `json:"sessid"`
		CtrlUUID string          `json:"ctrl_uuid"`
		XrtcUser jsonRawOrObject `json:"xrtc_user"`
	}{sessid, srv.uuid, jsonRawOrObject(user)})
	b, err := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
		Method: verto.MethodXrtcLogin, Params: params}).Marshal()
	if err != nil {
		return
	}
	srv.reqs.Send(srv.subj.Node(node), id, b, srv.cfg.Timers.LoginWait, func(*BusMsg, error) {})
}

// jsonRawOrObject writes raw JSON as it is, or {} when there is none.
type jsonRawOrObject []byte

func (j jsonRawOrObject) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("{}"), nil
	}
	return j, nil
}

// onPing answers another side's xrtc.ping (a node checking that this
// instance still holds its sockets).
func (srv *Server) onPing(bm *BusMsg, msg *verto.Message) {
	res, err := verto.NewResult(msg.ID, verto.PongResult{Message: "PONG", CtrlUUID: srv.uuid})
	if err == nil {
		srv.replyBus(bm.Reply, res)
	}
}

// goLoop runs f on a goroutine the server waits for at stop; once stop
// waits, f is not run.
func (srv *Server) goLoop(f func()) {
	srv.loopsMu.Lock()
	defer srv.loopsMu.Unlock()
	if srv.loopsDone {
		return
	}
	srv.loops.Add(1)
	go func() {
		defer srv.loops.Done()
		f()
	}()
}
