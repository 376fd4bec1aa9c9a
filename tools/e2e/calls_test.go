package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"xccrtc/module/testhost"
	"xccrtc/module/xrtc"
	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// TestEchoCall: a client on XCtrl calls 9196; the test host echoes; audio
// flows both ways over DTLS-SRTP and the round trip is measured.
func TestEchoCall(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1}, 40*time.Second)
	c := e.dial(0, 1000)
	call := e.call(c, "9196", client.CallOptions{Audio: client.Tone(1000)})
	fatalIf(t, call.WaitReceived(e.ctx, 100), "echo")
	fatalIf(t, call.WaitRTT(e.ctx, 1), "audio round trip")

	node := e.st.Nodes[0]
	if call.NodeUUID() != node.Endpoint.NodeUUID() {
		t.Errorf("call on node %q, want %q", call.NodeUUID(), node.Endpoint.NodeUUID())
	}
	ch := node.Host.Channel(call.ID())
	if ch == nil {
		t.Fatalf("no channel %s on the node", call.ID())
	}
	e.eventually("the node to receive and echo RTP", func() bool { s := ch.Stats(); return s.RTPIn >= 100 && s.RTPOut >= 100 })
	if n := e.st.Ctrls[0].Calls(); n != 1 {
		t.Errorf("xctrl 1 has %d calls, want 1", n)
	}

	r := e.hangup(call)
	expectMedia(t, r, 100)
	if r.RTTMS <= 0 || r.RTTSamples < 1 {
		t.Errorf("no audio round trip: %+v", r)
	}
	if r.NodeUUID != node.Endpoint.NodeUUID() {
		t.Errorf("report node %q", r.NodeUUID)
	}
	select {
	case <-ch.Done():
	case <-e.ctx.Done():
		t.Fatal("node channel still up")
	}
	if ch.Cause() != verto.CauseNormalClearing {
		t.Errorf("node channel cause %s", ch.Cause())
	}
	t.Logf("echo call: %s", r)
}

// originate runs node.Originate on its own goroutine (it returns once the
// user answers or the call fails).
func originate(ctx context.Context, node *testhost.Node, dial string, app testhost.App) <-chan originated {
	out := make(chan originated, 1)
	go func() {
		start := time.Now()
		ch, err := node.Originate(ctx, dial, app)
		out <- originated{ch, err, time.Since(start)}
	}()
	return out
}

type originated struct {
	ch   *testhost.Channel
	err  error
	took time.Duration
}

// answerNext answers the next call the client is offered.
func (e *env) answerNext(c *client.Client, o client.CallOptions) *client.Call {
	e.t.Helper()
	select {
	case in, ok := <-c.Incoming():
		if !ok {
			e.t.Fatal("client ended before the invite")
		}
		fatalIf(e.t, in.Answer(e.ctx, o), "answer")
		return in
	case <-e.ctx.Done():
		e.t.Fatal("no invite")
	}
	return nil
}

func (e *env) wait(o <-chan originated) originated {
	e.t.Helper()
	select {
	case r := <-o:
		return r
	case <-e.ctx.Done():
		e.t.Fatal("originate did not return")
	}
	return originated{}
}

// TestCallToRegisteredUser: the node calls user 1000 the way FreeSWITCH's
// `originate xrtc/1000@xswitch.cn &tone` does; the invite goes to the
// queue subject cn.xswitch.ctrl.rtc, the XCtrl that takes it finds the user
// in the registry (whichever instance holds the socket), the client answers
// and the tone and the client's audio flow both ways.
func TestCallToRegisteredUser(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1}, 40*time.Second)
	sp := e.spy(verto.DefaultSubjects().CtrlRTC())
	alice := e.dial(0, 1000)
	node := e.st.Nodes[0]

	o := originate(e.ctx, node, "xrtc/1000@xswitch.cn", testhost.AppTone)
	in := e.answerNext(alice, client.CallOptions{Audio: client.Tone(600)})
	res := e.wait(o)
	fatalIf(t, res.err, "originate")
	if in.Direction() != client.DirectionInbound || in.ID() != res.ch.UUID() {
		t.Errorf("incoming %s %s, node channel %s", in.Direction(), in.ID(), res.ch.UUID())
	}
	if got := sp.invites(verto.DefaultSubjects().CtrlRTC(), in.ID()); len(got) != 1 || param(got[0], "login") != "1000@xswitch.cn" {
		t.Errorf("verto.invite on cn.xswitch.ctrl.rtc: %d seen", len(got))
	}
	fatalIf(t, in.WaitReceived(e.ctx, 100), "the node's tone")
	e.eventually("the client's audio at the node", func() bool { return res.ch.Stats().RTPIn >= 100 })

	r := e.hangup(in)
	expectMedia(t, r, 100)
	select {
	case <-res.ch.Done():
	case <-e.ctx.Done():
		t.Fatal("node channel still up")
	}
	if res.ch.Cause() != verto.CauseNormalClearing {
		t.Errorf("node channel cause %s", res.ch.Cause())
	}
}

// TestUnregisteredUserFailsFast: a call to a user with no socket anywhere
// fails with USER_NOT_REGISTERED at once (the registry answers "none"),
// not after the 5 s NO_USER_RESPONSE timeout; so does a user who logged
// out.
func TestUnregisteredUserFailsFast(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1}, 30*time.Second)
	node := e.st.Nodes[0]
	check := func(dial string) {
		t.Helper()
		start := time.Now()
		_, err := node.Originate(e.ctx, dial, testhost.AppEcho)
		took := time.Since(start)
		if xrtc.CauseOf(err) != verto.CauseUserNotRegistered {
			t.Errorf("%s: %v (cause %s), want USER_NOT_REGISTERED", dial, err, xrtc.CauseOf(err))
		}
		if took > time.Second {
			t.Errorf("%s: failed after %v, want well under the 5 s invite timeout", dial, took)
		}
		t.Logf("%s: %s in %v", dial, xrtc.CauseOf(err), took.Round(time.Millisecond))
	}
	check("xrtc/1001@xswitch.cn")

	// Log in on instance 2 and out again: the registry forgets the user.
	c := e.dial(1, 1001)
	fatalIf(t, c.Close(), "logout")
	fatalIf(t, e.st.Ctrls[1].WaitSockets(e.ctx, func(open, in int) bool { return in == 0 }), "socket gone")
	check("xrtc/1001@xswitch.cn")
}

// TestUserOnInstance1CalledFromInstance2: Alice is logged in on XCtrl 1;
// Bob, on XCtrl 2, is in a call on the node. The test host cannot bridge
// (no dialplan to "bridge to a user"), so the node originates the call to
// Alice with the invite addressed to Bob's instance ({ctrl_uuid=<XCtrl 2>}),
// exactly as a bridge from Bob's call would. XCtrl 2 holds no socket of
// Alice: it must find her on XCtrl 1 through the registry and forward the
// invite there; she answers and the media flows.
func TestUserOnInstance1CalledFromInstance2(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1}, 40*time.Second)
	c1, c2 := e.st.Ctrls[0], e.st.Ctrls[1]
	subj := verto.DefaultSubjects()
	sp := e.spy(subj.Ctrl(c1.CtrlUUID()), subj.Ctrl(c2.CtrlUUID()))
	alice := e.dial(0, 1000)
	bob := e.dial(1, 1001)
	node := e.st.Nodes[0]

	bcall := e.call(bob, "9196", client.CallOptions{Audio: client.Tone(800)})
	fatalIf(t, bcall.WaitReceived(e.ctx, 20), "bob's echo")

	o := originate(e.ctx, node, "{ctrl_uuid="+c2.CtrlUUID()+",origination_caller_id_number=1001}xrtc/1000@xswitch.cn", testhost.AppEcho)
	in := e.answerNext(alice, client.CallOptions{Audio: client.Tone(600)})
	res := e.wait(o)
	fatalIf(t, res.err, "originate")

	at2 := sp.invites(subj.Ctrl(c2.CtrlUUID()), in.ID())
	at1 := sp.invites(subj.Ctrl(c1.CtrlUUID()), in.ID())
	if len(at2) != 1 {
		t.Errorf("invite on XCtrl 2's subject: %d seen, want 1", len(at2))
	}
	if len(at1) != 1 || param(at1[0], verto.KeyForwardedBy) != c2.CtrlUUID() {
		t.Errorf("invite forwarded to XCtrl 1: %d seen (forwarded by %q)", len(at1), func() string {
			if len(at1) > 0 {
				return param(at1[0], verto.KeyForwardedBy)
			}
			return ""
		}())
	}
	if _, num := in.Remote(); num != "1001" {
		t.Errorf("alice sees caller %q, want 1001", num)
	}
	fatalIf(t, in.WaitReceived(e.ctx, 100), "alice's echo")
	e.eventually("alice's audio at the node", func() bool { return res.ch.Stats().RTPIn >= 100 })

	ra := e.hangup(in)
	expectMedia(t, ra, 100)
	rb := e.hangup(bcall)
	expectMedia(t, rb, 20)
}

// TestMediaTimeoutSilentClientIsNotHungUp is the other half of
// TestMediaTimeout: a client sending silence (a muted browser) still sends
// RTP, so it is not hung up, even on 9198 where the node sends nothing.
func TestMediaTimeoutSilentClientIsNotHungUp(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	e := newEnv(t, stack.Options{Ctrls: 1, Nodes: 1, Node: func(_ int, c *xrtc.Config) {
		c.Profiles[verto.DefaultProfile].MediaTimeout = timeout
	}}, 30*time.Second)
	c := e.dial(0, 1000)
	call := e.call(c, "9198", client.CallOptions{Audio: client.Silence()})
	ch := e.st.Channel(call.ID())
	if ch == nil {
		t.Fatal("no node channel")
	}
	e.eventually("silent RTP at the node", func() bool { return ch.Stats().RTPIn > 0 })
	// Twice the timeout with nothing happening is the assertion itself.
	select {
	case <-call.Done():
		t.Fatalf("silent call hung up: %v", call.Err())
	case <-time.After(2*timeout + timeout/4):
	}
	r := e.hangup(call)
	if r.RTPPacketsReceived != 0 {
		t.Errorf("9198 sent %d packets", r.RTPPacketsReceived)
	}
	if !errors.Is(call.Err(), client.ErrCallEnded) && call.Err() != nil {
		t.Errorf("err %v", call.Err())
	}
}
