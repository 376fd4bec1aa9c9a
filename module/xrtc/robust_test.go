package xrtc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/ctrl/natsd"
	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

func TestBadInputIsAnswered(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name    string
		payload string
		code    int
		msg     string
	}{
		{"garbage", `{{{ not json`, verto.CodeInvalidRequest, verto.MsgInvalidRequest},
		{"not an object", `[1,2]`, verto.CodeInvalidRequest, verto.MsgInvalidMessage},
		{"wrong version", `{"jsonrpc":"1.0","id":"1","method":"verto.bye"}`, verto.CodeInvalidRequest, verto.MsgInvalidMessage},
		{"no method", `{"jsonrpc":"2.0","id":"1"}`, verto.CodeMethodNotFound, verto.MsgMethodNotFound},
		{"unknown method", `{"jsonrpc":"2.0","id":"1","method":"verto.frobnicate","params":{}}`, verto.CodeMethodNotFound, verto.MsgMethodNotFound},
		{"params of the wrong type", `{"jsonrpc":"2.0","id":"1","method":"verto.bye","params":{"dialogParams":7}}`, verto.CodeInvalidParams, ""},
		{"unknown call", `{"jsonrpc":"2.0","id":"1","method":"verto.bye","params":{"dialogParams":{"callID":"nope"}}}`, verto.CodeSessionError, verto.MsgCallNotExist},
		{"no dialog", `{"jsonrpc":"2.0","id":"1","method":"verto.answer","params":{}}`, verto.CodeSessionError, verto.MsgDialogMissing},
		{"no callID", `{"jsonrpc":"2.0","id":"1","method":"verto.modify","params":{"dialogParams":{}}}`, verto.CodeSessionError, verto.MsgCallIDMissing},
		{"no sdp", `{"jsonrpc":"2.0","id":"1","method":"verto.invite","params":{"dialogParams":{"callID":"x"}}}`, verto.CodeSessionError, verto.MsgSDPMissing},
		{"sdp that does not parse", `{"jsonrpc":"2.0","id":"1","method":"verto.invite","params":{"sdp":"hello","dialogParams":{"callID":"x"}}}`, verto.CodeSessionError, verto.MsgCallError},
		{"huge", `{"jsonrpc":"2.0","id":"1","method":"verto.info","params":{"x":"` + strings.Repeat("a", 300<<10) + `"}}`, verto.CodeInvalidRequest, verto.MsgTooLarge},
		{"deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), verto.CodeInvalidRequest, verto.MsgInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := e.ctrl.SendRaw(t, e.node, []byte(tc.payload))
			if rep.Error == nil {
				t.Fatalf("result %s", rep.Result)
			}
			if rep.Error.Code != tc.code || (tc.msg != "" && rep.Error.Message != tc.msg) {
				t.Errorf("error %d %q, want %d %q", rep.Error.Code, rep.Error.Message, tc.code, tc.msg)
			}
		})
	}
	// Bad SDP: CALL ERROR with the cause.
	rep := e.ctrl.SendRaw(t, e.node, []byte(`{"jsonrpc":"2.0","id":"2","method":"verto.invite","params":{"sdp":"v=0 video only","dialogParams":{"callID":"y"}}}`))
	var cause string
	if rep.Error == nil || !rep.Error.Field("cause", &cause) || cause != "INCOMPATIBLE_DESTINATION" {
		t.Errorf("bad sdp: %v", rep.Error)
	}
	// The same callID twice.
	e.invite("dup", "9196")
	m := e.call(verto.MethodInvite, "dup", map[string]any{"sdp": goodSDP})
	if msg := errMsg(t, m); msg != verto.MsgCannotCreate {
		t.Errorf("duplicate invite: %s", msg)
	}
	// The host refuses the channel.
	e.host.FailNew(errors.New("no more sessions"))
	if msg := errMsg(t, e.call(verto.MethodInvite, "refused", map[string]any{"sdp": goodSDP})); msg != verto.MsgCannotCreate {
		t.Errorf("refused invite: %s", msg)
	}
	e.host.FailNew(nil)
	// Still alive.
	e.answered("after")
}

func TestAsyncRepliesAndForeignMethods(t *testing.T) {
	bus := xrtctest.NewBus()
	host := xrtctest.NewHost()
	ep, err := xrtc.New(xrtc.Options{Config: testConfig(), Host: host, Bus: bus, NodeUUID: nodeUUID, Clock: xrtctest.NewClock(), Log: testLog(),
		OnPanic: func(v any) { t.Errorf("panic: %v", v) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := ep.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ep.Stop(context.Background())
	// mod_xcc's methods share the subject and are not answered.
	before := bus.Published.Load()
	ep.HandleMessage(ep.NodeSubject(), "r.1", []byte(`{"jsonrpc":"2.0","id":"1","method":"XNode.Answer","params":{}}`))
	ep.HandleMessage(ep.NodeSubject(), "r.2", []byte(`{"jsonrpc":"2.0","id":"1","result":{"method":"verto.answer"}}`))
	// Everything else with a reply subject is.
	pong, _ := bus.Call(ep.NodeSubject(), []byte(`{"jsonrpc":"2.0","id":"3","method":"verto.ping"}`))
	select {
	case rep := <-pong:
		if !strings.Contains(string(rep), "PONG") {
			t.Errorf("ping: %s", rep)
		}
	case <-time.After(xrtctest.Wait):
		t.Fatal("no pong")
	}
	if n := bus.Published.Load() - before; n != 1 {
		t.Errorf("%d messages published, want only the pong", n)
	}
}

func TestHostPanicIsContained(t *testing.T) {
	var panics atomic.Int64
	e := newEnv(t, func(o *xrtc.Options) { o.OnPanic = func(any) { panics.Add(1) } })
	e.host.OnHangup = func(*xrtctest.Channel, verto.Cause) { panic("host bug") }
	ch := e.answered("call-p")
	rep := e.call(verto.MethodBye, "call-p", nil)
	if rep.Error == nil || rep.Error.Code != -32603 {
		t.Errorf("bye with a panicking host: %s %v", rep.Result, rep.Error)
	}
	ch.Expect(t, "hangup:NORMAL_CLEARING")
	e.host.OnHangup = nil
	e.answered("call-q")
	// The reply goes out before the panic reaches the recovery: wait for it.
	waitFor(t, "the panic to be reported", func() bool { return panics.Load() == 1 })
	if got := e.ep.API("status"); !strings.Contains(got, "1 panics") {
		t.Errorf("status does not count the panic:\n%s", got)
	}
}

// TestNATSDownAndBack: calls keep their media while NATS is away, a message
// that cannot be sent fails its call cleanly, and the node reconnects by
// itself.
func TestNATSDownAndBack(t *testing.T) {
	e := newEnv(t)
	host, port := hostPort(t, e.url)
	active := e.answered("call-live")
	e.invite("call-pending", "9196")
	pending := e.host.Channel("call-pending")

	e.ns.Close()
	waitFor(t, "disconnect", func() bool { return strings.Contains(e.ep.API("status"), "RECONNECTING") })
	// The switch answers a call while NATS is down: verto.answer cannot be
	// sent, so the call fails instead of hanging half-answered.
	e.ep.ChannelAnswer("call-pending", "v=0")
	pending.Expect(t, "hangup:DESTINATION_OUT_OF_ORDER")
	// The established call keeps its media: it is not hung up.
	active.AddRTP(100)
	e.clock.Advance(time.Second)
	active.NoEvent(t)
	if _, ok := e.ep.Call("call-live"); !ok {
		t.Fatal("live call dropped")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns2, err := natsd.Start(ctx, natsd.Options{Listen: host + ":" + port, NoJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns2.Close)
	waitFor(t, "reconnect", func() bool { return strings.Contains(e.ep.API("status"), "CONNECTED") })
	// The node has written its subscriptions again; the server may not
	// have read them yet (a request now could find no responders).
	probe, err := nats.Connect(ns2.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	waitFor(t, "the node's subscription", func() bool {
		_, err := probe.Request(e.node, []byte(`{}`), time.Second)
		return !errors.Is(err, nats.ErrNoResponders)
	})
	ctrl := xrtctest.NewCtrl(t, ns2.ClientURL(), ctrlUUID)
	e.ctrl = ctrl
	// The live call still works over the new connection.
	r := xrtctest.Result(t, e.call(verto.MethodModify, "call-live", map[string]any{"action": "hold"}))
	if r["holdState"] != "held" {
		t.Errorf("hold after reconnect: %v", r)
	}
	active.Expect(t, "hold:true")
	e.answered("call-new")
}

func hostPort(t *testing.T, url string) (string, string) {
	t.Helper()
	hp := strings.TrimPrefix(url, "nats://")
	i := strings.LastIndexByte(hp, ':')
	return hp[:i], hp[i+1:]
}

// waitFor polls a condition that has no event to wait on (the NATS client's
// connection state).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(xrtctest.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %s", what, xrtctest.Wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNodeStatusHeartbeats(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", NoJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	status := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe("cn.xswitch.status.node", status); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	clock := xrtctest.NewClock()
	host := xrtctest.NewHost()
	cfg := testConfig()
	cfg.Settings.NATSURLs = []string{ns.ClientURL()}
	ep, err := xrtc.New(xrtc.Options{Config: cfg, Host: host, Clock: clock, Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	if ep.NodeUUID() != "core-uuid" {
		t.Errorf("node uuid %q, want the host's core UUID", ep.NodeUUID())
	}
	if err := ep.Start(ctx); err != nil {
		t.Fatal(err)
	}
	next := func(method string) verto.Node {
		t.Helper()
		select {
		case m := <-status:
			msg, err := verto.DecodeMessage(m.Data, verto.Limits{})
			if err != nil || msg.Method != method {
				t.Fatalf("status %s, want %s", m.Data, method)
			}
			var n verto.Node
			_ = msg.DecodeParams(&n)
			return n
		case <-time.After(xrtctest.Wait):
			t.Fatalf("no %s", method)
		}
		return verto.Node{}
	}
	n := next(verto.MethodNodeRegister)
	if n.UUID != "core-uuid" || n.Name != "fake" || n.Version != "fake-1" || n.SessionsMax != 1000 {
		t.Errorf("register %+v", n)
	}
	host.NewInboundCall(xrtc.InboundSpec{UUID: "x", RemoteSDP: goodSDP})
	clock.Advance(19 * time.Second)
	select {
	case m := <-status:
		t.Fatalf("early status %s", m.Data)
	default:
	}
	clock.Advance(time.Second)
	if n = next(verto.MethodNodeUpdate); n.Sessions != 1 || n.Uptime != 20 {
		t.Errorf("update %+v", n)
	}
	clock.Advance(20 * time.Second)
	next(verto.MethodNodeUpdate)
	if err := ep.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n = next(verto.MethodNodeUnregister); !n.Shutdown {
		t.Errorf("unregister %+v", n)
	}
}

func TestStopHangsUpCalls(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-s")
	if err := e.ep.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch.Expect(t, "hangup:SYSTEM_SHUTDOWN")
	if p := e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "SYSTEM_SHUTDOWN" {
		t.Errorf("bye %v", p)
	}
	if _, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"}); xrtc.CauseOf(err) != verto.CauseSystemShutdown {
		t.Errorf("originate after stop: %v", err)
	}
	if err := e.ep.Start(context.Background()); !errors.Is(err, xrtc.ErrStopped) {
		t.Errorf("restart: %v", err)
	}
}

// Identifiers a NATS peer sends are bounded: a ctrl_uuid that would make a
// subject over NATS's control line, a callID that cannot be a channel UUID,
// a sessid of megabytes. Each is answered with -32602 and the endpoint stays
// on the bus (a call still works after them).
func TestOverlongIdentifiersFromNATS(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"ctrl_uuid", map[string]any{"sessid": sessid, "ctrl_uuid": long, "sdp": goodSDP, "dialogParams": map[string]any{"callID": "c1", "destination_number": "9196"}}},
		{"ctrl_uuid with a wildcard", map[string]any{"sessid": sessid, "ctrl_uuid": "a.>", "sdp": goodSDP, "dialogParams": map[string]any{"callID": "c1", "destination_number": "9196"}}},
		{"callID", map[string]any{"sessid": sessid, "sdp": goodSDP, "dialogParams": map[string]any{"callID": long, "destination_number": "9196"}}},
		{"sessid", map[string]any{"sessid": long, "sdp": goodSDP, "dialogParams": map[string]any{"callID": "c2", "destination_number": "9196"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.params["xrtc_user"] = user()
			rep := e.ctrl.Send(t, e.node, verto.MethodInvite, tc.params)
			if rep.Error == nil || rep.Error.Code != verto.CodeInvalidParams || !strings.Contains(rep.Error.Message, "Invalid params") {
				t.Fatalf("got %+v %s", rep.Error, rep.Result)
			}
		})
	}
	for _, m := range []string{verto.MethodXrtcLogin, verto.MethodSubscribe} {
		rep := e.ctrl.Send(t, e.node, m, map[string]any{"sessid": sessid, "ctrl_uuid": long, "eventChannel": "x"})
		if rep.Error == nil || rep.Error.Code != verto.CodeInvalidParams {
			t.Fatalf("%s: %+v", m, rep.Error)
		}
	}
	e.answered("after-hostile")
}

func TestOverlongDialStringIsInvalidNumberFormat(t *testing.T) {
	e := newEnv(t)
	for _, target := range []string{
		strings.Repeat("u", 50<<10) + "@xswitch.cn",
		"1000@" + strings.Repeat("d", 300),
		"1000@xswitch.cn;ctrl_uuid=" + strings.Repeat("c", 5000),
		"1000@xswitch.cn;ctrl_uuid=a.*",
	} {
		_, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: target})
		if xrtc.CauseOf(err) != verto.CauseInvalidNumberFormat {
			t.Errorf("target of %d bytes: %v (cause %v)", len(target), err, xrtc.CauseOf(err))
		}
	}
	e.answered("after-dial")
}

// An XCtrl killed without a word (SIGKILL) leaves its sockets' calls on the
// node: the node finds out through NATS (its pings get no responders) and
// detaches them, so that the detach timer runs and the clients can log in
// again elsewhere, instead of waiting for media-timeout.
func TestXCtrlGoneDetachesItsCalls(t *testing.T) {
	e := newEnv(t, noMediaTimeout)
	e.answered("kept-alive")
	e.ctrl.NC.Close() // the XCtrl dies: nobody subscribes cn.xswitch.ctrl.ctrl-1 any more
	deadline := time.Now().Add(xrtctest.Wait)
	for {
		e.clock.Advance(2 * time.Second) // one probe round each time
		if ci, _ := e.ep.Call("kept-alive"); ci.State == "detached" {
			break
		}
		if time.Now().After(deadline) {
			ci, _ := e.ep.Call("kept-alive")
			t.Fatalf("call still %s after the XCtrl was gone for %s", ci.State, 2*time.Second)
		}
		time.Sleep(5 * time.Millisecond) // the probe runs on its own goroutine after Advance
	}
	// A new XCtrl: the client logs in again there and takes its call back.
	other := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	rep := other.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()})
	var lr verto.LoginReply
	if rep.Error != nil || rep.DecodeResult(&lr) != nil || len(lr.Reattached) != 1 {
		t.Fatalf("xrtc.login after the XCtrl died: %+v %s", rep.Error, rep.Result)
	}
	other.Expect(t, verto.MethodAttach)
}

// While the XCtrl answers, nothing is detached, however long it lasts; and
// xrtc.calls lists the calls the node holds for an XCtrl.
func TestLiveXCtrlKeepsItsCalls(t *testing.T) {
	e := newEnv(t, noMediaTimeout)
	e.answered("steady")
	for i := 0; i < 10; i++ {
		e.clock.Advance(2 * time.Second)
	}
	rep := e.ctrl.Send(t, e.node, verto.MethodXrtcCalls, nil)
	var cr verto.CallsReply
	if rep.Error != nil || rep.DecodeResult(&cr) != nil || len(cr.Calls) != 1 || cr.Calls[0].CallID != "steady" || cr.Calls[0].State != "active" {
		t.Fatalf("xrtc.calls: %+v %s", rep.Error, rep.Result)
	}
}

// noMediaTimeout turns the media watch off: tests that move the clock far
// ahead are not about media.
func noMediaTimeout(o *xrtc.Options) { o.Config.Profiles["default"].MediaTimeout = 0 }

// A login of a sessid with no call here leaves no socket state on the node
// (50 logins without a call used to leave "sockets 50").
func TestLoginWithoutCallsLeavesNoState(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 50; i++ {
		rep := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": fmt.Sprintf("idle-%d", i), "xrtc_user": user()})
		if rep.Error != nil {
			t.Fatal(rep.Error)
		}
	}
	if out := e.ep.API("status"); !strings.Contains(out, "sockets    0 ") {
		t.Fatalf("status after 50 logins without calls:\n%s", out)
	}
}
