package ctrl

import (
	"context"
	"strconv"
	"sync"
	"time"

	"xccrtc/verto"
)

// ring handles a node's verto.invite for a WebRTC user (params.login): find
// the user's sockets on every instance through the registry, ring the local
// ones, forward the invite to the instances holding the others, and answer
// the node with a RingResult, or USER_NOT_REGISTERED at once when the user
// has no socket anywhere. A forwarded invite (xrtc_forwarded_by) rings only
// this instance's sockets. An invite with a sessid calls that one socket
// (ringSocket).
func (srv *Server) ring(ctx context.Context, bm *BusMsg, msg *verto.Message, o *verto.Object, forwarded bool) {
	if o.String(verto.KeySessid) != "" {
		srv.ringSocket(ctx, bm, msg, o, forwarded) // xrtc/u:<sessid>: one socket
		return
	}
	callID := o.String(verto.KeyCallID)
	login := o.String("login")
	node := o.String(verto.KeyNodeUUID)
	log := srv.log.With("callID", truncate(callID, 64), "node_uuid", truncate(node, 64), "login", truncate(login, 64))
	if callID == "" || login == "" {
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, &verto.Error{Code: verto.CodeInvalidParams, Message: "callID and login required"}))
		return
	}
	// A NATS peer is no more trusted with lengths than a browser: the
	// login becomes a registry key, the node a subject.
	if err := checkRingIdents(callID, login, node); err != nil {
		srv.log.Warn("call to a user refused: bad identifier", "err", err, "node_uuid", truncate(node, 64))
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, verto.IdentRPC(err)))
		return
	}
	notRegistered := func() {
		log.Info("call to a user with no socket")
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, sessionError(verto.MsgNotRegistered)))
	}
	local := srv.sessions.ByLogin(login)
	var remote []string
	if !forwarded {
		entries, err := srv.lookup(ctx, login)
		if err != nil {
			log.Error("registry lookup failed; ringing this instance's sockets only", "err", err)
		}
		seen := map[string]bool{srv.uuid: true}
		for _, e := range entries {
			if verto.CheckToken(verto.KeyCtrlUUID, e.CtrlUUID) != nil {
				continue
			}
			if !seen[e.CtrlUUID] {
				seen[e.CtrlUUID] = true
				remote = append(remote, e.CtrlUUID)
			}
		}
	}
	if len(local) == 0 && len(remote) == 0 {
		notRegistered()
		return
	}
	res := verto.RingResult{Code: 200, Message: verto.RingMessage}
	if n := srv.ringSockets(local, callID, node, msg.Params); n > 0 {
		res.CtrlUUID = srv.uuid
		res.Ctrls = append(res.Ctrls, srv.uuid)
		res.Sockets += n
	}
	if len(remote) > 0 {
		for _, rr := range srv.forwardRing(remote, msg) {
			if rr.Sockets <= 0 {
				continue
			}
			if res.CtrlUUID == "" {
				res.CtrlUUID = rr.CtrlUUID
			}
			res.Ctrls = append(res.Ctrls, rr.Ctrls...)
			res.Sockets += rr.Sockets
		}
	}
	if res.Sockets == 0 {
		notRegistered()
		return
	}
	log.Info("ringing", "sockets", res.Sockets, "ctrls", len(res.Ctrls))
	out, _ := verto.NewResult(msg.ID, res)
	srv.replyBus(bm.Reply, out)
}

// lookup asks the registry for a user's sockets, retrying for a while when
// it fails (a JetStream leader election, a bucket being re-created): the
// node waits 5 s for the answer, a lookup that fails at once would make the
// call fail although the user is there.
func (srv *Server) lookup(ctx context.Context, login string) ([]RegEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, srv.cfg.Timers.Forward*2)
	defer cancel()
	wait := backoff{50 * time.Millisecond, 500 * time.Millisecond}
	for {
		entries, err := srv.reg.Lookup(ctx, login)
		if err == nil {
			srv.registrar.Observe(nil)
			return entries, nil
		}
		srv.registrar.Observe(err)
		if !wait.sleep(ctx.Done()) {
			return entries, err
		}
	}
}

func checkRingIdents(callID, login, node string) error {
	if err := verto.CheckCallID(callID); err != nil {
		return err
	}
	if err := verto.CheckLogin(login); err != nil {
		return err
	}
	if node != "" {
		return verto.CheckToken(verto.KeyNodeUUID, node)
	}
	return nil
}

// truncate bounds a string from the bus before it goes into a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ringSockets sends the invite to each local socket and maps the call to
// them.
func (srv *Server) ringSockets(socks []*Session, callID, node string, params []byte) int {
	if len(socks) == 0 {
		return 0
	}
	p, err := verto.EditParams(params, func(o *verto.Object) { o.Delete(verto.KeyForwardedBy) })
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range socks {
		if s.closed.Load() {
			continue
		}
		srv.router.Hold(callID, node, s, stateRinging)
		s.sendRequest(verto.MethodInvite, p)
		n++
	}
	return n
}

// forwardRing sends the invite to other instances and gathers their
// RingResults (failures and timeouts count as no socket).
func (srv *Server) forwardRing(ctrls []string, msg *verto.Message) []verto.RingResult {
	params, err := verto.EditParams(msg.Params, func(o *verto.Object) { o.Set(verto.KeyForwardedBy, srv.uuid) })
	if err != nil {
		return nil
	}
	out := make([]verto.RingResult, len(ctrls))
	var wg sync.WaitGroup
	for i, c := range ctrls {
		id := srv.reqs.NextID()
		b, err := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
			Method: verto.MethodInvite, Params: params}).Marshal()
		if err != nil {
			continue
		}
		wg.Add(1)
		srv.reqs.Send(srv.subj.Ctrl(c), id, b, srv.cfg.Timers.Forward, func(bm *BusMsg, err error) {
			defer wg.Done()
			if err != nil {
				return
			}
			rep, err := verto.DecodeMessage(bm.Data, busLimits)
			if err != nil || rep.Result == nil {
				return
			}
			var rr verto.RingResult
			if rep.DecodeResult(&rr) == nil && rr.Code == 200 {
				if rr.CtrlUUID == "" {
					rr.CtrlUUID = c
				}
				if len(rr.Ctrls) == 0 {
					rr.Ctrls = []string{rr.CtrlUUID}
				}
				out[i] = rr
			}
		})
	}
	wg.Wait()
	return out
}
