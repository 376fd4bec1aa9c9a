package fakenode

import (
	"context"

	"xccrtc/verto"
)

// Contact asks XCtrl for a user's sockets (xrtc.contact on subject; "" is
// the queue subject cn.xswitch.ctrl.rtc), as the xrtc_contact API does.
func (n *Node) Contact(ctx context.Context, subject, login string) (*verto.Message, error) {
	if subject == "" {
		subject = n.subj.CtrlRTC()
	}
	req, err := verto.NewRequest(verto.StringID("c-"+login), verto.MethodXrtcContact,
		verto.ContactParams{Login: login, NodeUUID: n.opts.UUID})
	if err != nil {
		return nil, err
	}
	b, _ := req.Marshal()
	rm, err := n.nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		return nil, err
	}
	return verto.DecodeMessage(rm.Data, verto.Limits{})
}

// OriginateSocket calls one socket (the per-socket dial string
// xrtc/u:<sessid>): a verto.invite with that sessid. It returns XCtrl's
// reply.
func (n *Node) OriginateSocket(ctx context.Context, subject, sessid, callID string) (*verto.Message, error) {
	return n.ring(ctx, subject, verto.ServerCallParams{
		CallID: callID, SDP: "v=0 offer", CallerIDName: "Node", CallerIDNumber: "9999",
		DisplayDirection: "outbound", NodeUUID: n.opts.UUID, Sessid: sessid})
}
