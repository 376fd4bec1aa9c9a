package ctrl

import (
	"context"
	"sort"

	"xccrtc/verto"
)

// Contacts and calls to one socket: what a node needs for mod_verto's
// verto_contact (the xrtc_contact API), its per-socket dial strings
// (xrtc/u:<sessid>) and its chat to users. The answers come from the
// registry in NATS, so any instance answers for the sockets of all.

// onContact answers a node's xrtc.contact: every socket of the user on
// every instance (this instance's own from its table, the others' from the
// registry), an empty list when there is none. It runs off the bus's
// dispatch goroutine (goRing).
func (srv *Server) onContact(ctx context.Context, bm *BusMsg, msg *verto.Message) {
	var p verto.ContactParams
	if err := msg.DecodeParams(&p); err != nil || p.Login == "" {
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, &verto.Error{Code: verto.CodeInvalidParams, Message: "login required"}))
		return
	}
	if err := verto.CheckLogin(p.Login); err != nil {
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, verto.IdentRPC(err)))
		return
	}
	res := verto.ContactResult{Login: p.Login, Sockets: []verto.Contact{}, CtrlUUID: srv.uuid}
	seen := map[string]bool{}
	for _, s := range srv.sessions.ByLogin(p.Login) {
		if sessid := s.Sessid(); !s.closed.Load() && sessid != "" && !seen[sessid] {
			seen[sessid] = true
			res.Sockets = append(res.Sockets, verto.Contact{Sessid: sessid, CtrlUUID: srv.uuid})
		}
	}
	entries, err := srv.lookup(ctx, p.Login)
	if err != nil {
		srv.log.Error("registry lookup failed; answering with this instance's sockets only", "login", truncate(p.Login, 64), "err", err)
	}
	var others []verto.Contact
	for _, e := range entries {
		// This instance's own entries may be stale (a socket closing):
		// its table above is the truth for them.
		if e.CtrlUUID == srv.uuid || seen[e.Sessid] || e.Sessid == "" ||
			verto.CheckToken(verto.KeyCtrlUUID, e.CtrlUUID) != nil || verto.CheckSessid(e.Sessid) != nil {
			continue
		}
		seen[e.Sessid] = true
		others = append(others, verto.Contact{Sessid: e.Sessid, CtrlUUID: e.CtrlUUID})
	}
	sort.Slice(others, func(i, j int) bool {
		if others[i].CtrlUUID != others[j].CtrlUUID {
			return others[i].CtrlUUID < others[j].CtrlUUID
		}
		return others[i].Sessid < others[j].Sessid
	})
	res.Sockets = append(res.Sockets, others...)
	out, _ := verto.NewResult(msg.ID, res)
	srv.replyBus(bm.Reply, out)
}

// ringSocket handles a node's verto.invite for one socket (params.sessid:
// the per-socket dial string xrtc/u:<sessid>): the socket rings here if
// this instance holds it, else the invite goes to the instance the
// registry names. The node gets a RingResult, or USER_NOT_REGISTERED when
// no instance holds the sessid.
func (srv *Server) ringSocket(ctx context.Context, bm *BusMsg, msg *verto.Message, o *verto.Object, forwarded bool) {
	callID, sessid, node := o.String(verto.KeyCallID), o.String(verto.KeySessid), o.String(verto.KeyNodeUUID)
	log := srv.log.With("callID", truncate(callID, 64), "node_uuid", truncate(node, 64), "sessid", truncate(sessid, 64))
	if callID == "" {
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, &verto.Error{Code: verto.CodeInvalidParams, Message: "callID required"}))
		return
	}
	err := verto.CheckCallID(callID)
	if err == nil {
		err = verto.CheckSessid(sessid)
	}
	if err == nil && node != "" {
		err = verto.CheckToken(verto.KeyNodeUUID, node)
	}
	if err != nil {
		log.Warn("call to a socket refused: bad identifier", "err", err)
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, verto.IdentRPC(err)))
		return
	}
	if s := srv.sessions.Get(sessid); s != nil && srv.ringSockets([]*Session{s}, callID, node, msg.Params) > 0 {
		log.Info("ringing one socket")
		out, _ := verto.NewResult(msg.ID, verto.RingResult{Code: 200, Message: verto.RingMessage,
			CtrlUUID: srv.uuid, Ctrls: []string{srv.uuid}, Sockets: 1})
		srv.replyBus(bm.Reply, out)
		return
	}
	if !forwarded {
		owner, ok, err := srv.reg.Owner(ctx, sessid)
		if err != nil {
			log.Error("registry lookup failed", "err", err)
		}
		if ok && owner.CtrlUUID != srv.uuid && verto.CheckToken(verto.KeyCtrlUUID, owner.CtrlUUID) == nil {
			if rr := srv.forwardRing([]string{owner.CtrlUUID}, msg); rr[0].Sockets > 0 {
				out, _ := verto.NewResult(msg.ID, rr[0])
				srv.replyBus(bm.Reply, out)
				return
			}
		}
	}
	log.Info("call to a socket that is not logged in")
	srv.replyBus(bm.Reply, verto.NewError(msg.ID, sessionError(verto.MsgNotRegistered)))
}
