package testhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"xccrtc/ctrl/natsd"
	"xccrtc/module/testhost"
	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

const (
	ctrlUUID = "ctrl-1"
	sessid   = "sess-1"
)

type env struct {
	t    *testing.T
	url  string
	node *testhost.Node
	ctrl *xrtctest.Ctrl
	subj string
}

func logger() *slog.Logger {
	if os.Getenv("XRTC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t *testing.T, o testhost.Options) *env {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", NoJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	o.NATSURL = ns.ClientURL()
	o.NodeUUID = "node-1"
	o.Log = logger()
	node, err := testhost.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := node.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, url: ns.ClientURL(), node: node, ctrl: xrtctest.NewCtrl(t, ns.ClientURL(), ctrlUUID), subj: node.Endpoint.NodeSubject()}
}

func alice() map[string]any {
	return map[string]any{"login": "1000@xswitch.cn", "id": "1000", "domain": "xswitch.cn", "caller_id_name": "Alice", "caller_id_number": "1000"}
}

// call has the peer call dest and completes the media: it returns the
// node's channel once verto.answer (or verto.media) arrived.
func (e *env) call(p *peer, c *xrtctest.Ctrl, sess, callID, dest string) *testhost.Channel {
	e.t.Helper()
	rep := c.Send(e.t, e.subj, verto.MethodInvite, map[string]any{
		"sessid": sess, "sdp": p.offer(), "xrtc_user": alice(),
		"dialogParams": map[string]any{"callID": callID, "destination_number": dest},
	})
	if r := xrtctest.Result(e.t, rep); r["message"] != "CALL CREATED" {
		e.t.Fatalf("invite: %v", r)
	}
	m := c.Next(e.t)
	var sp verto.ServerCallParams
	_ = m.DecodeParams(&sp)
	if (m.Method != verto.MethodAnswer && m.Method != verto.MethodMedia) || sp.SDP == "" || sp.CallID != callID {
		e.t.Fatalf("got %s %s", m.Method, m.Params)
	}
	p.accept(sp.SDP)
	ch := e.node.Host.Channel(callID)
	if ch == nil {
		e.t.Fatalf("no channel %s", callID)
	}
	return ch
}

func TestEchoCallWithDTLSSRTP(t *testing.T) {
	e := newEnv(t, testhost.Options{})
	p := newPeer(t)
	p.sending.Store(true)
	ch := e.call(p, e.ctrl, sessid, "call-echo", "9196")
	eventually(t, "ICE and DTLS connected", p.connected)
	eventually(t, "media both ways", func() bool { return ch.Stats().RTPIn > 20 && p.rtpIn.Load() > 20 })
	if ci, _ := e.node.Endpoint.Call("call-echo"); ci.State != "active" || ci.RTPIn == 0 {
		t.Errorf("call %+v", ci)
	}
	// DTMF and hold through the endpoint reach the channel.
	xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": alice(), "dtmf": "42", "dialogParams": map[string]any{"callID": "call-echo"}}))
	if ch.DTMF() != "42" {
		t.Errorf("dtmf %q", ch.DTMF())
	}
	r := xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodModify, map[string]any{"sessid": sessid, "xrtc_user": alice(), "action": "hold", "dialogParams": map[string]any{"callID": "call-echo"}}))
	if r["holdState"] != "held" || !ch.Held() {
		t.Errorf("hold %v", r)
	}
	r = xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodBye, map[string]any{"sessid": sessid, "xrtc_user": alice(), "dialogParams": map[string]any{"callID": "call-echo"}}))
	if r["message"] != "CALL ENDED" {
		t.Errorf("bye %v", r)
	}
	<-ch.Done()
	if ch.Cause() != verto.CauseNormalClearing {
		t.Errorf("cause %s", ch.Cause())
	}
	e.ctrl.ExpectNothing(t)
}

func TestToneAndDialplan(t *testing.T) {
	e := newEnv(t, testhost.Options{})
	p := newPeer(t)
	e.call(p, e.ctrl, sessid, "call-tone", "9197")
	eventually(t, "a tone", func() bool { return p.nonZero.Load() > 1000 })

	// Unrouted numbers: NO_ROUTE_DESTINATION.
	p2 := newPeer(t)
	xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": p2.offer(),
		"dialogParams": map[string]any{"callID": "call-none", "destination_number": "5555"}}))
	if pb := e.ctrl.Expect(t, verto.MethodBye); pb["cause"] != "NO_ROUTE_DESTINATION" || pb["callID"] != "call-none" {
		t.Errorf("bye %v", pb)
	}
	// Early media: verto.media and a tone, not answered.
	p3 := newPeer(t)
	xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": p3.offer(),
		"dialogParams": map[string]any{"callID": "call-early", "destination_number": "9195"}}))
	pm := e.ctrl.Expect(t, verto.MethodMedia)
	p3.accept(pm["sdp"].(string))
	eventually(t, "early media", func() bool { return p3.nonZero.Load() > 100 })
	if ci, _ := e.node.Endpoint.Call("call-early"); ci.State != "early" {
		t.Errorf("state %s", ci.State)
	}
	// An SDP that does not parse.
	rep := e.ctrl.Send(t, e.subj, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": "v=0\r\nthis is not sdp",
		"dialogParams": map[string]any{"callID": "call-bad", "destination_number": "9196"}})
	if m := xrtctest.ErrorOf(t, rep); m.Message != verto.MsgCallError {
		t.Errorf("bad sdp: %v", m)
	}
	mustStatus(t, e, "testhost")
}

func mustStatus(t *testing.T, e *env, want string) {
	t.Helper()
	if s := e.node.Endpoint.API("status"); !strings.Contains(s, want) {
		t.Errorf("status lacks %q:\n%s", want, s)
	}
}

// TestMediaTimeoutWithRealMedia: STUN and RTCP keep coming but RTP stops:
// the node hangs up with MEDIA_TIMEOUT. A muted peer (silent RTP) is not
// hung up.
func TestMediaTimeoutWithRealMedia(t *testing.T) {
	clock := xrtctest.NewClock()
	cfg := testhost.DefaultConfig()
	cfg.Profiles["default"].MediaTimeout = 2 * time.Second
	e := newEnv(t, testhost.Options{Config: &cfg, Clock: clock})
	p := newPeer(t)
	p.sending.Store(true) // muted: silence, but RTP
	ch := e.call(p, e.ctrl, sessid, "call-mt", "9198")
	eventually(t, "RTP at the node", func() bool { return ch.Stats().RTPIn > 5 })
	for i := 0; i < 10; i++ {
		n := ch.Stats().RTPIn
		eventually(t, "more RTP", func() bool { return ch.Stats().RTPIn > n })
		clock.Advance(time.Second)
	}
	e.ctrl.ExpectNothing(t)

	// The browser stops sending RTP; its ICE consent checks and RTCP go on.
	p.sending.Store(false)
	st := ch.Stats()
	eventually(t, "RTP to stop", func() bool {
		n := ch.Stats().RTPIn
		time.Sleep(100 * time.Millisecond)
		return ch.Stats().RTPIn == n
	})
	st = ch.Stats()
	stun := ch.STUNIn() // no RTP arrives now (see STUNIn)
	for i := 0; i < 5; i++ {
		p.sendRTCP()
	}
	eventually(t, "STUN and RTCP without RTP", func() bool {
		return ch.STUNIn() >= stun+3 && ch.Stats().RTCPIn > st.RTCPIn
	})
	if now := ch.Stats(); now.RTPIn != st.RTPIn {
		t.Fatalf("STUN/RTCP counted as media: %d -> %d", st.RTPIn, now.RTPIn)
	}
	clock.Advance(time.Second)
	e.ctrl.ExpectNothing(t)
	clock.Advance(2 * time.Second)
	pb := e.ctrl.Expect(t, verto.MethodBye)
	if pb["cause"] != "MEDIA_TIMEOUT" || pb["causeCode"] != 804.0 || pb["callID"] != "call-mt" {
		t.Fatalf("bye %v", pb)
	}
	<-ch.Done()
	if ch.Cause() != verto.CauseMediaTimeout {
		t.Errorf("cause %s", ch.Cause())
	}
}

func TestCallToUser(t *testing.T) {
	e := newEnv(t, testhost.Options{})
	p := newPeer(t)
	// XCtrl: the user is registered on this ctrl; its socket answers.
	e.ctrl.Serve(t, "cn.xswitch.ctrl.rtc", verto.CtrlQueue, func(m *verto.Message) *verto.Message {
		var inv verto.ServerCallParams
		_ = m.DecodeParams(&inv)
		if inv.Login != "1000@xswitch.cn" {
			return verto.NewError(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgNotRegistered})
		}
		ans := p.answer(inv.SDP)
		go func() {
			m, _ := verto.NewRequest(verto.StringID("a1"), verto.MethodAnswer, map[string]any{"sessid": sessid, "ctrl_uuid": ctrlUUID,
				"xrtc_user": alice(), "sdp": ans, "dialogParams": map[string]any{"callID": inv.CallID}})
			b, _ := m.Marshal()
			_, _ = e.ctrl.NC.Request(e.subj, b, 5*time.Second)
		}()
		r, _ := verto.NewResult(m.ID, verto.RingResult{Code: 200, Message: verto.RingMessage, CtrlUUID: ctrlUUID, Ctrls: []string{ctrlUUID}, Sockets: 1})
		return r
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ch, err := e.node.Originate(ctx, "{origination_caller_id_number=5000}xrtc/1000@xswitch.cn", testhost.AppTone)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the tone at the user", func() bool { return p.nonZero.Load() > 1000 })
	eventually(t, "DTLS", p.connected)
	if ap := e.ctrl.Expect(t, verto.MethodXrtcAnswered); ap["callID"] != ch.UUID() || ap["sessid"] != sessid {
		t.Errorf("xrtc.answered %v", ap)
	}
	// Not registered.
	_, err = e.node.Originate(ctx, "xrtc/nobody@xswitch.cn", testhost.AppEcho)
	var ce *xrtc.CauseError
	if !errors.As(err, &ce) || ce.Cause != verto.CauseUserNotRegistered {
		t.Errorf("nobody: %v", err)
	}
	// Unknown profile.
	if _, err = e.node.Originate(ctx, "xrtc/nosuch/1000@xswitch.cn", testhost.AppEcho); xrtc.CauseOf(err) != verto.CauseChannelUnacceptable {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestReattachWithNewMedia(t *testing.T) {
	e := newEnv(t, testhost.Options{})
	p := newPeer(t)
	p.sending.Store(true)
	ch := e.call(p, e.ctrl, sessid, "call-ra", "9196")
	eventually(t, "echo", func() bool { return p.rtpIn.Load() > 10 })
	e.ctrl.Notify(t, e.subj, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	eventually(t, "detached", func() bool { ci, _ := e.node.Endpoint.Call("call-ra"); return ci.State == "detached" })
	p.close()

	// The page reloads: same sessid, new peer, new XCtrl.
	ctrl2 := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	p2 := newPeer(t)
	p2.sending.Store(true)
	rep := ctrl2.Send(t, e.subj, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": alice()})
	var lr verto.LoginReply
	if err := rep.DecodeResult(&lr); err != nil || len(lr.Reattached) != 1 {
		t.Fatalf("login %s", rep.Result)
	}
	att := ctrl2.Expect(t, verto.MethodAttach)
	ans := p2.answer(att["sdp"].(string))
	xrtctest.Result(t, ctrl2.Send(t, e.subj, verto.MethodAttach, map[string]any{"sessid": sessid, "xrtc_user": alice(), "sdp": ans, "dialogParams": map[string]any{"callID": "call-ra"}}))
	base := ch.Stats().RTPIn
	eventually(t, "media after re-attach", func() bool { return p2.rtpIn.Load() > 10 && ch.Stats().RTPIn > base+10 })
	eventually(t, "DTLS after re-attach", p2.connected)
}

func TestConference(t *testing.T) {
	e := newEnv(t, testhost.Options{})
	ctrl2 := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	la := "conference-liveArray.3000@xswitch.cn"
	chat := "conference-chat.3000@xswitch.cn"

	pA := newPeer(t)
	e.call(pA, e.ctrl, "sess-a", "call-a", "3000")
	joinA := e.ctrl.Expect(t, verto.MethodEvent)
	var pvt verto.PvtData
	b, _ := json.Marshal(joinA["pvtData"])
	_ = json.Unmarshal(b, &pvt)
	if joinA["eventChannel"] != "sess-a" || pvt.Action != verto.PvtActionJoin || pvt.LAChannel != la || pvt.ChatChannel != chat {
		t.Fatalf("join event %v", joinA)
	}
	// The join event comes before the join ends (its liveArray add, to
	// nobody yet): the conference's members wait for the end, so that A's
	// subscription below does not catch A's own add.
	if m := e.node.Conference("3000"); len(m) != 1 {
		t.Fatalf("members %v", m)
	}
	for _, c := range []struct {
		ctrl *xrtctest.Ctrl
		sess string
	}{{e.ctrl, "sess-a"}, {ctrl2, "sess-b"}} {
		xrtctest.Result(t, c.ctrl.Send(t, e.subj, verto.MethodSubscribe, map[string]any{"sessid": c.sess, "eventChannel": []string{la, chat}}))
	}
	pB := newPeer(t)
	e.call(pB, ctrl2, "sess-b", "call-b", "3000")
	ctrl2.Expect(t, verto.MethodEvent) // pvtData join for B
	for _, c := range []*xrtctest.Ctrl{e.ctrl, ctrl2} {
		ev := c.Expect(t, verto.MethodEvent)
		d := ev["data"].(map[string]any)
		if ev["eventChannel"] != la || d["action"] != "add" || d["hashKey"] != "call-b" {
			t.Errorf("add %v", ev)
		}
	}
	if m := e.node.Conference("3000"); len(m) != 2 {
		t.Fatalf("members %v", m)
	}
	// B bootstraps: only B gets the snapshot.
	xrtctest.Result(t, ctrl2.Send(t, e.subj, verto.MethodBroadcast, map[string]any{"sessid": "sess-b", "eventChannel": la,
		"data": map[string]any{"liveArray": map[string]any{"command": "bootstrap", "context": la, "name": "3000"}}}))
	boot := ctrl2.Expect(t, verto.MethodEvent)
	bd := boot["data"].(map[string]any)
	if bd["action"] != "bootObj" || len(bd["data"].([]any)) != 2 || boot["sessid"] != "sess-b" {
		t.Errorf("bootObj %v", boot)
	}
	e.ctrl.ExpectNothing(t)
	// Chat is re-broadcast to everyone, with the sender XCtrl stamped.
	xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodBroadcast, map[string]any{"sessid": "sess-a", "eventChannel": chat,
		"userid": "1000@xswitch.cn", "fromDisplay": "Alice", "data": map[string]any{"action": "send", "message": "hello"}}))
	for _, c := range []*xrtctest.Ctrl{e.ctrl, ctrl2} {
		ev := c.Expect(t, verto.MethodEvent)
		d := ev["data"].(map[string]any)
		if ev["eventChannel"] != chat || d["message"] != "hello" || d["from"] != "1000@xswitch.cn" || d["direction"] != "outbound" {
			t.Errorf("chat %v", ev)
		}
	}
	// A leaves.
	xrtctest.Result(t, e.ctrl.Send(t, e.subj, verto.MethodBye, map[string]any{"sessid": "sess-a", "xrtc_user": alice(), "dialogParams": map[string]any{"callID": "call-a"}}))
	del := ctrl2.Expect(t, verto.MethodEvent)
	if del["data"].(map[string]any)["action"] != "del" {
		t.Errorf("del %v", del)
	}
}
