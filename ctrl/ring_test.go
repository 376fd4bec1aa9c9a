package ctrl_test

import (
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

func TestCallToUserRingsEverySocketAcrossInstances(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	onX := e.Login(x, "1000")
	onY := e.Login(y, "1000")
	other := e.Login(x, "1001")

	for _, subject := range []string{"" /* cn.xswitch.ctrl.rtc, any instance */, "cn.xswitch.ctrl." + y.CtrlUUID()} {
		callID := "in-" + subject
		rep, err := n.Originate(e.Ctx, subject, "1000@"+ctrltest.Domain, callID)
		if err != nil || rep.Error != nil {
			t.Fatalf("originate via %q: %v %+v", subject, err, rep)
		}
		var rr verto.RingResult
		if err := rep.DecodeResult(&rr); err != nil || rr.Message != verto.RingMessage || rr.Sockets != 2 || len(rr.Ctrls) != 2 {
			t.Fatalf("ring result %+v %v", rr, err)
		}
		inX := onX.ExpectCall(verto.MethodInvite, callID)
		onX.Ack(inX)
		inY := onY.ExpectCall(verto.MethodInvite, callID)
		onY.Ack(inY)
		if ctrltest.Param(inY, "node_uuid") != "n1" || ctrltest.Param(inY, "sdp") == "" {
			t.Fatalf("invite to the socket: %s", inY.Params)
		}
		// First answer wins, the other socket loses the race.
		if r := onY.Call(verto.MethodAnswer, ctrltest.CallParams(callID, map[string]any{"sdp": "v=0 answer"})); r.Error != nil {
			t.Fatalf("answer: %+v", r.Error)
		}
		lost := onX.ExpectCall(verto.MethodBye, callID)
		if ctrltest.Param(lost, "cause") != "LOSE_RACE" {
			t.Fatalf("loser got %s", lost.Params)
		}
		if r := onX.Call(verto.MethodAnswer, ctrltest.CallParams(callID, map[string]any{"sdp": "v=0"})); r.Error == nil {
			t.Fatal("the loser could still answer")
		}
		if r := onY.Call(verto.MethodBye, ctrltest.CallParams(callID, nil)); r.Error != nil {
			t.Fatalf("bye: %+v", r.Error)
		}
	}
	if other.Has(func(m *verto.Message) bool { return m.Method == verto.MethodInvite }) {
		t.Fatal("another user rang")
	}
}

func TestCallToUnregisteredUserFailsAtOnce(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	slow := func(c *ctrl.Config) { c.Timers.Forward = 5 * time.Second }
	e.StartCtrl(slow)
	y := e.StartCtrl(slow)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	for _, subject := range []string{"", "cn.xswitch.ctrl." + y.CtrlUUID()} {
		start := time.Now()
		rep, err := n.Originate(e.Ctx, subject, "1007@"+ctrltest.Domain, "nobody")
		if err != nil || rep.Error == nil || rep.Error.Message != verto.MsgNotRegistered {
			t.Fatalf("via %q: %v %+v", subject, err, rep)
		}
		if d := time.Since(start); d > time.Second { // no timeout is involved (the forward one is 5 s)
			t.Fatalf("not registered took %v", d)
		}
	}
	// A user whose socket closed is unregistered again.
	c := e.Login(y, "1008")
	c.Close()
	if err := y.WaitSockets(e.Ctx, func(_, in int) bool { return in == 0 }); err != nil {
		t.Fatal(err)
	}
	rep, err := n.Originate(e.Ctx, "", "1008@"+ctrltest.Domain, "left")
	if err != nil || rep.Error == nil || rep.Error.Message != verto.MsgNotRegistered {
		t.Fatalf("after close: %v %+v", err, rep)
	}
}

func TestCallerHangsUpWhileRinging(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	a := e.Login(x, "1002")
	b := e.Login(x, "1002")
	if _, err := n.Originate(e.Ctx, "", "1002@"+ctrltest.Domain, "ring-1"); err != nil {
		t.Fatal(err)
	}
	a.ExpectCall(verto.MethodInvite, "ring-1")
	b.ExpectCall(verto.MethodInvite, "ring-1")
	if err := n.Hangup("ring-1", verto.CauseOriginatorCancel); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*ctrltest.Browser{a, b} {
		if bye := c.ExpectCall(verto.MethodBye, "ring-1"); ctrltest.Param(bye, "cause") != "ORIGINATOR_CANCEL" {
			t.Fatalf("bye %s", bye.Params)
		}
	}
	if x.Calls() != 0 {
		t.Fatalf("%d calls left", x.Calls())
	}
}
