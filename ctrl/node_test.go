package ctrl_test

import (
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

func TestNodeGoneEndsItsCalls(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*fakenode.Node)
	}{
		{"silent", (*fakenode.Node).Kill},
		{"unregistered", (*fakenode.Node).Close},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := ctrltest.New(t, ctrltest.Options{})
			x := e.StartCtrl(func(c *ctrl.Config) { c.Timers.NodeExpiry = 300 * time.Millisecond })
			// Both report every 50 ms until the victim stops.
			e.StartNode(fakenode.Options{UUID: "alive", UpdateEvery: 50 * time.Millisecond, Sessions: 900, SessionsMax: 1000})
			victim := e.StartNode(fakenode.Options{UUID: "victim", UpdateEvery: 50 * time.Millisecond, SessionsMax: 1000})
			c := e.Login(x, "1000")
			id := c.Invite("doomed", "7000", nil)
			if tr := c.ExpectCall(verto.MethodTrying, "doomed"); ctrltest.Param(tr, "node_uuid") != "victim" {
				t.Fatalf("placed on %s", ctrltest.Param(tr, "node_uuid"))
			}
			c.Reply(id)
			tc.stop(victim)
			bye := c.ExpectCall(verto.MethodBye, "doomed")
			if ctrltest.Param(bye, "cause") == "" || ctrltest.Param(bye, "node_uuid") != "victim" {
				t.Fatalf("bye %s", bye.Params)
			}
			e.WaitNode("victim", false)
			if x.Calls() != 0 {
				t.Fatalf("%d calls still mapped", x.Calls())
			}
			// New calls go to the survivor.
			c.Invite("next", "7000", nil)
			if tr := c.ExpectCall(verto.MethodTrying, "next"); ctrltest.Param(tr, "node_uuid") != "alive" {
				t.Fatalf("next call on %s", ctrltest.Param(tr, "node_uuid"))
			}
		})
	}
}

func TestShuttingDownNodeTakesNoNewCalls(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	a := e.StartNode(fakenode.Options{UUID: "a"})
	e.StartNode(fakenode.Options{UUID: "b"})
	a.Update(0, true)
	if err := x.WaitNodes(e.Ctx, func(ns []verto.Node) bool {
		for _, n := range ns {
			if n.UUID == "a" {
				return n.Shutdown
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	c := e.Login(x, "1000")
	for i := 0; i < 10; i++ {
		id := string(rune('a' + i))
		c.Invite(id, "dest"+id, nil)
		if tr := c.ExpectCall(verto.MethodTrying, id); ctrltest.Param(tr, "node_uuid") != "b" {
			t.Fatalf("call %s on a shutting-down node", id)
		}
	}
}

func TestReloadOntoAnotherInstanceReattaches(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1", AutoAnswer: true})
	c := e.Login(x, "1000")
	c.Reply(c.Invite("kept", "9196", nil))
	c.Ack(c.ExpectCall(verto.MethodAnswer, "kept"))
	sessid := c.Sessid
	e.WaitBooked(sessid, "n1")

	// The page reloads: the socket closes, the new page lands on y.
	c.Close()
	if _, err := n.Wait(e.Ctx, verto.MethodXrtcDetach, nil); err != nil {
		t.Fatal(err)
	}
	again := e.DialSessid(y, sessid)
	_, ready := again.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	var rp verto.ClientReadyParams
	if err := ctrltest.Decode(ready, &rp); err != nil || len(rp.ReattachedSessions) != 1 || rp.ReattachedSessions[0] != "kept" {
		t.Fatalf("clientReady %s", ready.Params)
	}
	att := again.ExpectCall(verto.MethodAttach, "kept")
	again.Ack(att)
	if r := again.Call(verto.MethodAttach, ctrltest.CallParams("kept", map[string]any{"sdp": "v=0 answer"})); r.Error != nil {
		t.Fatalf("attach answer: %+v", r.Error)
	}
	if r := again.Call(verto.MethodBye, ctrltest.CallParams("kept", nil)); r.Error != nil {
		t.Fatalf("bye after reload: %+v", r.Error)
	}
	if len(n.Calls()) != 0 {
		t.Fatalf("node still has %v", n.Calls())
	}
}

func TestReloadWithoutCloseOnAnotherInstance(t *testing.T) {
	// The old socket is still open when the page comes back elsewhere
	// (a half-open connection): it is punted and the calls move.
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1", AutoAnswer: true})
	c := e.Login(x, "1001")
	c.Reply(c.Invite("moved", "9196", nil))
	c.ExpectCall(verto.MethodAnswer, "moved")
	e.WaitBooked(c.Sessid, "n1")
	again := e.DialSessid(y, c.Sessid)
	_, ready := again.Login("1001@"+ctrltest.Domain, ctrltest.Password, nil)
	c.Expect(verto.MethodPunt)
	var rp verto.ClientReadyParams
	if err := ctrltest.Decode(ready, &rp); err != nil || len(rp.ReattachedSessions) != 1 {
		t.Fatalf("clientReady %s", ready.Params)
	}
	again.ExpectCall(verto.MethodAttach, "moved")
	if r := again.Call(verto.MethodModify, ctrltest.CallParams("moved", map[string]any{"action": "hold"})); r.Error != nil {
		t.Fatalf("modify after takeover: %+v", r.Error)
	}
}
