package ctrl_test

import (
	"time"

	"fmt"

	"testing"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

func TestBrowserCallsOut(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1", AutoAnswer: true})
	c := e.Login(x, "1000")

	id := c.Invite("call-1", "9196", nil)
	trying := c.Expect(verto.MethodTrying)
	if got := ctrltest.Param(trying, "node_uuid"); got != "n1" {
		t.Fatalf("trying node_uuid = %q", got)
	}
	res := c.Reply(id)
	if res.Error != nil || ctrltest.Param(res, "message") != "CALL CREATED" || ctrltest.Param(res, "node_uuid") != "n1" ||
		ctrltest.Param(res, "sessid") != c.Sessid {
		t.Fatalf("invite result: %s", c.Pending())
	}
	c.Ack(c.ExpectCall(verto.MethodAnswer, "call-1"))
	got, _ := n.Wait(e.Ctx, verto.MethodInvite, nil)
	var user verto.User
	if !got.Param("xrtc_user", &user) || user.Login != "1000@"+ctrltest.Domain {
		t.Fatalf("node saw xrtc_user %+v", user)
	}
	bye := c.Call(verto.MethodBye, ctrltest.CallParams("call-1", nil))
	if bye.Error != nil || ctrltest.Param(bye, "message") != "CALL ENDED" {
		t.Fatalf("bye: %+v", bye)
	}
	// The map entry is gone: another bye has no call to go to.
	again := c.Call(verto.MethodBye, ctrltest.CallParams("call-1", nil))
	if again.Error == nil || again.Error.Message != verto.MsgCallNotExist {
		t.Fatalf("second bye: %+v", again)
	}
}

func TestInviteErrorReleasesCall(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1000")
	r := c.Reply(c.Invite("bad-call", "fail", nil))
	var cause string
	if r.Error == nil || r.Error.Message != verto.MsgCallError || !r.Error.Field("cause", &cause) || cause == "" {
		t.Fatalf("invite error: %+v", r.Error)
	}
	if x.Calls() != 0 {
		t.Fatalf("%d calls mapped after a failed invite", x.Calls())
	}
	if r := c.Call(verto.MethodModify, ctrltest.CallParams("bad-call", map[string]any{"action": "hold"})); r.Error == nil ||
		r.Error.Message != verto.MsgCallNotExist {
		t.Fatalf("modify after failed invite: %+v", r.Error)
	}
}

func TestInviteValidation(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	c := e.Login(x, "1000")
	for _, tc := range []struct {
		name   string
		params map[string]any
		msg    string
	}{
		{"no dialogParams", map[string]any{"sdp": "v=0"}, verto.MsgDialogMissing},
		{"no callID", map[string]any{"sdp": "v=0", "dialogParams": map[string]any{}}, verto.MsgCallIDMissing},
		{"no sdp", map[string]any{"dialogParams": map[string]any{"callID": "x"}}, verto.MsgSDPMissing},
		{"no node", map[string]any{"sdp": "v=0", "dialogParams": map[string]any{"callID": "x"}}, verto.MsgNoNode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Call(verto.MethodInvite, tc.params)
			if r.Error == nil || r.Error.Code != verto.CodeSessionError || r.Error.Message != tc.msg {
				t.Fatalf("got %+v", r.Error)
			}
		})
	}
}

func TestCallScopedRouting(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1000")
	c.Reply(c.Invite("call-r", "9196", nil))
	n.Answer("call-r")
	c.ExpectCall(verto.MethodAnswer, "call-r")

	t.Run("by callID map", func(t *testing.T) {
		r := c.Call(verto.MethodModify, ctrltest.CallParams("call-r", map[string]any{"action": "hold"}))
		if r.Error != nil || ctrltest.Param(r, "holdState") != verto.HoldStateHeld {
			t.Fatalf("%+v %s", r.Error, r.Result)
		}
	})
	t.Run("unknown call", func(t *testing.T) {
		r := c.Call(verto.MethodInfo, ctrltest.CallParams("nope", map[string]any{"dtmf": "1"}))
		var id string
		if r.Error == nil || r.Error.Code != verto.CodeSessionError || r.Error.Message != verto.MsgCallNotExist ||
			!r.Error.Field("callID", &id) || id != "nope" {
			t.Fatalf("%+v", r.Error)
		}
	})
	t.Run("by node_uuid on an instance without the call", func(t *testing.T) {
		other := e.Login(y, "1001")
		r := other.Call(verto.MethodInfo, ctrltest.CallParams("call-r", map[string]any{"dtmf": "5", "node_uuid": "n1"}))
		if r.Error != nil || ctrltest.Param(r, "message") != "SENT" {
			t.Fatalf("%+v", r.Error)
		}
		// node_uuid inside dialogParams works too.
		r = other.Call(verto.MethodInfo, map[string]any{"dtmf": "6", "dialogParams": map[string]any{"callID": "call-r", "node_uuid": "n1"}})
		if r.Error != nil {
			t.Fatalf("%+v", r.Error)
		}
	})
	t.Run("chat without a call goes to any node", func(t *testing.T) {
		r := c.Call(verto.MethodInfo, map[string]any{"msg": map[string]any{"to": "1001@" + ctrltest.Domain, "body": "hi"}})
		if r.Error != nil || ctrltest.Param(r, "message") != "SENT" {
			t.Fatalf("%+v", r.Error)
		}
	})
	t.Run("node bye releases the call", func(t *testing.T) {
		if err := n.Hangup("call-r", verto.CauseNormalClearing); err != nil {
			t.Fatal(err)
		}
		bye := c.ExpectCall(verto.MethodBye, "call-r")
		if ctrltest.Param(bye, "cause") != "NORMAL_CLEARING" {
			t.Fatalf("bye %s", bye.Params)
		}
		c.Ack(bye)
		r := c.Call(verto.MethodModify, ctrltest.CallParams("call-r", map[string]any{"action": "unhold"}))
		if r.Error == nil || r.Error.Message != verto.MsgCallNotExist {
			t.Fatalf("after node bye: %+v", r.Error)
		}
	})
}

// An invite naming a callID this instance routes already (another user's
// call, learnt from a conference's liveArray) is refused at once: the
// call's mapping stays (its client's bye still finds the node) and the
// other socket does not join the call (a node message by callID reaches
// the call's socket only). Before, the node's refusal released the mapping
// and the invite had added the socket to the call.
func TestInviteWithAnotherUsersCallID(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1", AutoAnswer: true})
	a := e.Login(x, "1000")
	if r := a.Reply(a.Invite("call-a", "9196", nil)); r.Error != nil {
		t.Fatalf("invite: %+v", r.Error)
	}
	a.Ack(a.ExpectCall(verto.MethodAnswer, "call-a"))
	b := e.Login(x, "1001")
	r := b.Reply(b.Invite("call-a", "9196", nil))
	if r.Error == nil || r.Error.Message != verto.MsgCannotCreate {
		t.Fatalf("invite with another user's callID: %+v %s", r.Error, r.Result)
	}
	n.Send(x.CtrlUUID(), verto.MethodDisplay, map[string]any{"callID": "call-a", "display_name": "D", "node_uuid": "n1"})
	a.ExpectCall(verto.MethodDisplay, "call-a")
	if b.Has(func(m *verto.Message) bool { return m.Method == verto.MethodDisplay }) {
		t.Fatal("the other user's socket got the call's display")
	}
	if bye := a.Call(verto.MethodBye, ctrltest.CallParams("call-a", nil)); bye.Error != nil {
		t.Fatalf("the call's own bye after the other invite: %+v", bye.Error)
	}
}

func TestNodeMessagesReachTheirSocket(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	a := e.Login(x, "1000")
	b := e.Login(x, "1001")
	rep, err := n.Request(e.Ctx, x.CtrlUUID(), verto.MethodDisplay, map[string]any{"callID": "c", "display_name": "B",
		"sessid": b.Sessid, "node_uuid": "n1"})
	if err != nil || rep.Error != nil || ctrltest.Param(rep, "message") != verto.MsgSent {
		t.Fatalf("node request: %v %+v", err, rep)
	}
	d := b.Expect(verto.MethodDisplay)
	if ctrltest.Param(d, "display_name") != "B" || ctrltest.Param(d, "node_uuid") != "n1" {
		t.Fatalf("display %s", d.Params)
	}
	if _, ok := d.ID.Int(); !ok {
		t.Fatalf("server request id %s is not an integer", d.ID)
	}
	if a.Has(func(m *verto.Message) bool { return m.Method == verto.MethodDisplay }) {
		t.Fatal("the other socket got it")
	}
	rep, err = n.Request(e.Ctx, x.CtrlUUID(), verto.MethodDisplay, map[string]any{"callID": "c", "sessid": "gone"})
	if err != nil || rep.Error == nil || rep.Error.Message != verto.MsgSessionNotFound {
		t.Fatalf("unknown sessid: %v %+v", err, rep)
	}
}

func TestConferenceMembersShareANode(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	// One user places 40 calls below: no bound on its invites or calls.
	x := e.StartCtrl(func(c *ctrl.Config) { c.Limits.InviteRatePerUser, c.Limits.MaxCallsPerUser = -1, -1 })
	y := e.StartCtrl(nil)
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		e.StartNode(fakenode.Options{UUID: id, SessionsMax: 1000})
	}
	nodeOf := func(c *ctrltest.Browser, callID, dest string) string {
		id := c.Invite(callID, dest, nil)
		tr := c.ExpectCall(verto.MethodTrying, callID)
		if r := c.Reply(id); r.Error != nil {
			t.Fatalf("invite: %+v", r.Error)
		}
		return ctrltest.Param(tr, "node_uuid")
	}
	first := nodeOf(e.Login(x, "1000"), "m1", "3000")
	for i, s := range []*ctrl.Server{x, y, y, x} {
		if got := nodeOf(e.Login(s, fmt.Sprint(1001+i)), fmt.Sprint("m", i+2), "3000"); got != first {
			t.Fatalf("member %d on %s, first on %s", i+2, got, first)
		}
	}
	// Other destinations spread over the nodes.
	seen := map[string]bool{}
	c := e.Login(x, "1009")
	for i := 0; i < 40; i++ {
		seen[nodeOf(c, fmt.Sprint("d", i), fmt.Sprint(5000+i))] = true
	}
	if len(seen) < 3 {
		t.Fatalf("40 destinations on %d nodes", len(seen))
	}
}

func TestSilentNodeTimesOut(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.Timers.Invite = 200 * time.Millisecond })
	e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1000")
	r := c.Reply(c.Invite("quiet", "silent", nil))
	if r.Error == nil || r.Error.Message != verto.MsgNodeTimeout {
		t.Fatalf("got %+v", r.Error)
	}
	if x.Calls() != 0 {
		t.Fatal("the timed-out call is still mapped")
	}
	alive(t, c)
}
