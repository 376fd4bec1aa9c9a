package ctrl_test

import (
	"sort"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// A node's xrtc.contact (the xrtc_contact API) lists every socket of the
// user, on every instance, whichever instance takes the question; a user
// without a socket gets an empty list at once.
func TestContactListsEverySocketAcrossInstances(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	slow := func(c *ctrl.Config) { c.Timers.Forward = 5 * time.Second }
	x := e.StartCtrl(slow)
	y := e.StartCtrl(slow)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	a := e.Login(x, "1000")
	b := e.Login(x, "1000")
	c := e.Login(y, "1000")
	e.Login(y, "1001")

	want := map[string]string{a.Sessid: x.CtrlUUID(), b.Sessid: x.CtrlUUID(), c.Sessid: y.CtrlUUID()}
	for _, subject := range []string{"", "cn.xswitch.ctrl.rtc"} {
		for i := 0; i < 4; i++ { // the queue hands the question to either instance
			rep, err := n.Contact(e.Ctx, subject, "1000@"+ctrltest.Domain)
			if err != nil || rep.Error != nil {
				t.Fatalf("contact: %v %+v", err, rep)
			}
			var res verto.ContactResult
			if err := rep.DecodeResult(&res); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, s := range res.Sockets {
				got[s.Sessid] = s.CtrlUUID
			}
			if len(got) != 3 || len(res.Sockets) != 3 {
				t.Fatalf("sockets %+v, want %v", res.Sockets, want)
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("socket %s on %q, want %q (%+v)", k, got[k], v, res.Sockets)
				}
			}
		}
	}

	start := time.Now()
	rep, err := n.Contact(e.Ctx, "", "1007@"+ctrltest.Domain)
	var res verto.ContactResult
	if err != nil || rep.DecodeResult(&res) != nil || res.Sockets == nil || len(res.Sockets) != 0 {
		t.Fatalf("user without sockets: %v %+v %+v", err, rep, res)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("an empty answer took %v", d)
	}
	// A bad login is refused, not looked up.
	rep, err = n.Contact(e.Ctx, "", "")
	if err != nil || rep.Error == nil || rep.Error.Code != verto.CodeInvalidParams {
		t.Fatalf("empty login: %v %+v", err, rep)
	}

	// A closed socket is gone from the answer of its own instance at once.
	c.Close()
	if err := y.WaitSockets(e.Ctx, func(_, in int) bool { return in == 1 }); err != nil {
		t.Fatal(err)
	}
	rep, err = n.Contact(e.Ctx, "cn.xswitch.ctrl."+y.CtrlUUID(), "1000@"+ctrltest.Domain)
	if err != nil || rep.Error != nil {
		t.Fatalf("contact: %v %+v", err, rep)
	}
	res = verto.ContactResult{}
	if err := rep.DecodeResult(&res); err != nil {
		t.Fatal(err)
	}
	var sessids []string
	for _, s := range res.Sockets {
		sessids = append(sessids, s.Sessid)
	}
	sort.Strings(sessids)
	wantLeft := []string{a.Sessid, b.Sessid}
	sort.Strings(wantLeft)
	if len(sessids) != 2 || sessids[0] != wantLeft[0] || sessids[1] != wantLeft[1] {
		t.Fatalf("after the close: %v, want %v", sessids, wantLeft)
	}
}

// A node's verto.invite with a sessid (xrtc/u:<sessid>) rings that socket
// only, wherever it is: the other sockets of the same user do not ring, the
// node hears which instance rings it, and a sessid nobody holds is
// USER_NOT_REGISTERED at once.
func TestCallToOneSocket(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	onX := e.Login(x, "1000")
	onY := e.Login(y, "1000")

	for i, subject := range []string{"", "cn.xswitch.ctrl." + x.CtrlUUID(), "cn.xswitch.ctrl." + y.CtrlUUID()} {
		callID := "one-" + string(rune('a'+i))
		rep, err := n.OriginateSocket(e.Ctx, subject, onY.Sessid, callID)
		if err != nil || rep.Error != nil {
			t.Fatalf("originate via %q: %v %+v", subject, err, rep)
		}
		var rr verto.RingResult
		if err := rep.DecodeResult(&rr); err != nil || rr.Message != verto.RingMessage || rr.Sockets != 1 ||
			rr.CtrlUUID != y.CtrlUUID() || len(rr.Ctrls) != 1 || rr.Ctrls[0] != y.CtrlUUID() {
			t.Fatalf("via %q: ring result %+v %v", subject, rr, err)
		}
		inv := onY.ExpectCall(verto.MethodInvite, callID)
		onY.Ack(inv)
		if ctrltest.Param(inv, "sdp") == "" || ctrltest.Param(inv, verto.KeyForwardedBy) != "" {
			t.Fatalf("invite to the socket: %s", inv.Params)
		}
		if r := onY.Call(verto.MethodAnswer, ctrltest.CallParams(callID, map[string]any{"sdp": "v=0 answer"})); r.Error != nil {
			t.Fatalf("answer: %+v", r.Error)
		}
		if r := onY.Call(verto.MethodBye, ctrltest.CallParams(callID, nil)); r.Error != nil {
			t.Fatalf("bye: %+v", r.Error)
		}
	}
	if onX.Has(func(m *verto.Message) bool { return m.Method == verto.MethodInvite }) {
		t.Fatal("the user's other socket rang")
	}

	start := time.Now()
	for _, subject := range []string{"", "cn.xswitch.ctrl." + x.CtrlUUID()} {
		rep, err := n.OriginateSocket(e.Ctx, subject, "no-such-sessid", "nobody")
		if err != nil || rep.Error == nil || rep.Error.Message != verto.MsgNotRegistered {
			t.Fatalf("unknown sessid via %q: %v %+v", subject, err, rep)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("not registered took %v", d)
	}
	rep, err := n.OriginateSocket(e.Ctx, "", "bad\x01sessid", "bad")
	if err != nil || rep.Error == nil || rep.Error.Code != verto.CodeInvalidParams {
		t.Fatalf("bad sessid: %v %+v", err, rep)
	}
}
