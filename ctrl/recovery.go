package ctrl

import (
	"context"
	"strconv"

	"xccrtc/verto"
)

// A node that comes back after a restart (FreeSWITCH's fsctl recover)
// brings its calls back and offers each again to its client with
// verto.attach. It knows the call's sessid, not where that socket lives
// now: its XCtrl may be gone, the browser logged in again elsewhere. So the
// node sends the verto.attach to the queue subject of calls to users
// (cn.xswitch.ctrl.rtc, any instance), and the instance that takes it finds
// the socket: its own, or the owner the registry names, to which it
// forwards the message. The node's reply is the owner's: SENT, or SESSION
// NOT FOUND when the sessid is logged in nowhere (the node tries again
// later, while its detach timeout runs).

// attachBySessid delivers a node's verto.attach to the socket of its sessid
// on whichever instance holds it.
func (srv *Server) attachBySessid(ctx context.Context, bm *BusMsg, msg *verto.Message, o *verto.Object) {
	sessid := o.String(verto.KeySessid)
	if sessid == "" || verto.CheckSessid(sessid) != nil {
		srv.replyBus(bm.Reply, verto.NewError(msg.ID, &verto.Error{Code: verto.CodeInvalidParams, Message: "sessid required"}))
		return
	}
	if srv.sessions.Get(sessid) != nil {
		srv.deliver(bm, msg, o)
		return
	}
	notFound := func() { srv.replyBus(bm.Reply, verto.NewError(msg.ID, sessionError(verto.MsgSessionNotFound))) }
	owner, ok, err := srv.reg.Owner(ctx, sessid)
	if err != nil || !ok || owner.CtrlUUID == srv.uuid || verto.CheckToken(verto.KeyCtrlUUID, owner.CtrlUUID) != nil {
		notFound()
		return
	}
	id := srv.reqs.NextID()
	b, err := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
		Method: msg.Method, Params: msg.Params}).Marshal()
	if err != nil {
		notFound()
		return
	}
	rep, err := srv.reqs.Do(ctx, srv.subj.Ctrl(owner.CtrlUUID), id, b, srv.cfg.Timers.Forward)
	if err != nil {
		notFound()
		return
	}
	out, err := verto.DecodeMessage(rep.Data, busLimits)
	if err != nil {
		notFound()
		return
	}
	out.ID = msg.ID
	srv.replyBus(bm.Reply, out)
}
