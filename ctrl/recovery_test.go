package ctrl_test

import (
	"testing"

	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// A node that restarted recovers a call (fsctl recover) and looks for its
// client by sessid on the queue subject of calls to users: whichever
// instance takes the request finds the socket, its own or on another
// instance (the registry), and answers SENT with the instance that holds
// it; a sessid logged in nowhere is SESSION NOT FOUND.
func TestRecoveredCallFindsItsSocket(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n-restarted"})
	onX := e.Login(x, "1000")
	onY := e.Login(y, "1001")
	for _, b := range []*ctrltest.Browser{onX, onY, onX, onY} { // either instance may take each request
		callID := "recovered-" + b.Sessid
		rep, err := n.Request(e.Ctx, "rtc", verto.MethodAttach, map[string]any{
			"callID": callID, "sessid": b.Sessid, "sdp": "v=0 offer", "node_uuid": "n-restarted",
		})
		if err != nil || rep.Error != nil {
			t.Fatalf("attach to %s: %v %+v", b.Sessid, err, rep)
		}
		var res map[string]any
		if err := rep.DecodeResult(&res); err != nil || res["message"] != verto.MsgSent {
			t.Fatalf("attach result %v %v", res, err)
		}
		want := x.CtrlUUID()
		if b == onY {
			want = y.CtrlUUID()
		}
		if res["ctrl_uuid"] != want {
			t.Errorf("SENT by %v, want the socket's instance %s", res["ctrl_uuid"], want)
		}
		m := b.ExpectCall(verto.MethodAttach, callID)
		b.Ack(m)
		if ctrltest.Param(m, "sdp") != "v=0 offer" {
			t.Errorf("verto.attach %s", m.Params)
		}
	}
	rep, err := n.Request(e.Ctx, "rtc", verto.MethodAttach, map[string]any{"callID": "c", "sessid": "nobody", "sdp": "v=0"})
	if err != nil || rep.Error == nil || rep.Error.Message != verto.MsgSessionNotFound {
		t.Fatalf("attach to nobody: %v %+v", err, rep)
	}
}
