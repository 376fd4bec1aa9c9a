package xrtc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// ringing serves subject as XCtrl does for a registered user: it records the
// invite and answers RINGING for ctrls.
func ringing(t *testing.T, e *env, subject string, ctrls ...string) <-chan verto.ServerCallParams {
	invites := make(chan verto.ServerCallParams, 16)
	e.ctrl.Serve(t, subject, verto.CtrlQueue, func(m *verto.Message) *verto.Message {
		var p verto.ServerCallParams
		_ = m.DecodeParams(&p)
		invites <- p
		r, _ := verto.NewResult(m.ID, verto.RingResult{Code: 200, Message: verto.RingMessage, CtrlUUID: ctrls[0], Ctrls: ctrls, Sockets: 2})
		return r
	})
	return invites
}

func nextInvite(t *testing.T, ch <-chan verto.ServerCallParams) verto.ServerCallParams {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(xrtctest.Wait):
		t.Fatal("no verto.invite")
	}
	return verto.ServerCallParams{}
}

// ringingUser has the switch call 1000@xswitch.cn and returns the call
// (its channel on the fake host too) once it rings.
func ringingUser(t *testing.T, e *env) (xrtc.Channel, *xrtctest.Channel) {
	t.Helper()
	invites := ringing(t, e, "cn.xswitch.ctrl.rtc", ctrlUUID)
	ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	if err != nil {
		t.Fatal(err)
	}
	fch := e.host.NextChannel(t)
	nextInvite(t, invites)
	fch.Expect(t, "offer")
	fch.Expect(t, "ringing")
	return ch, fch
}

func TestOriginateRingAnswerFirstWins(t *testing.T) {
	e := newEnv(t)
	other := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	invites := ringing(t, e, "cn.xswitch.ctrl.rtc", ctrlUUID, "ctrl-2")
	ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{
		Target: "1000@xswitch.cn",
		Vars:   map[string]string{"verto_svar_x": "1", "verto_h_y": "2"},
		Caller: xrtc.CallerProfile{CallerIDName: "Bob", CallerIDNumber: "2000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	fch := e.host.NextChannel(t)
	if fch.UUID() != ch.UUID() || fch.Outbound.Route.Login != "1000@xswitch.cn" || fch.Outbound.Vars["verto_orig_dest"] != "1000@xswitch.cn" {
		t.Fatalf("outbound spec %+v", fch.Outbound)
	}
	inv := nextInvite(t, invites)
	if inv.CallID != ch.UUID() || inv.SDP == "" || inv.Login != "1000@xswitch.cn" || inv.NodeUUID != nodeUUID ||
		inv.CallerIDName != "Bob" || inv.CallerIDNumber != "2000" || inv.DisplayDirection != "outbound" || inv.Variables["verto_svar_x"] != "1" {
		t.Fatalf("invite %+v", inv)
	}
	fch.Expect(t, "offer")
	fch.Expect(t, "ringing")
	if ci, _ := e.ep.Call(ch.UUID()); ci.State != "ringing" {
		t.Fatalf("state %s", ci.State)
	}
	// The second socket (on ctrl-2) answers first.
	rep := other.Send(t, e.node, verto.MethodAnswer, map[string]any{"sessid": "sess-2", "sdp": goodSDP,
		"xrtc_user": user(), "dialogParams": map[string]any{"callID": ch.UUID(), "callee_id_name": "Alice"}})
	if r := xrtctest.Result(t, rep); r["node_uuid"] != nodeUUID {
		t.Fatalf("answer result %v", r)
	}
	fch.Expect(t, "remote-answer")
	fch.Expect(t, "vars") // before the answer: CHANNEL_ANSWER carries them
	fch.Expect(t, "answered")
	if fch.Var("jsock_uuid_str") != "sess-2" || fch.Var("callee_id_name") != "Alice" || fch.Var("xrtc_ctrl_uuid") != "ctrl-2" {
		t.Errorf("vars after answer: %s %s %s", fch.Var("jsock_uuid_str"), fch.Var("callee_id_name"), fch.Var("xrtc_ctrl_uuid"))
	}
	// Every ringing XCtrl learns who answered.
	for _, c := range []*xrtctest.Ctrl{e.ctrl, other} {
		p := c.Expect(t, verto.MethodXrtcAnswered)
		if p["callID"] != ch.UUID() || p["sessid"] != "sess-2" || p["ctrl_uuid"] != "ctrl-2" {
			t.Errorf("xrtc.answered %v", p)
		}
	}
	// The later answer loses.
	rep = e.call(verto.MethodAnswer, ch.UUID(), map[string]any{"sdp": goodSDP})
	if msg := errMsg(t, rep); msg != "CALL ALREADY ANSWERED" {
		t.Errorf("second answer: %s", msg)
	}
	// The switch hangs up: the answering socket's XCtrl is told.
	e.ep.ChannelHangup(ch.UUID(), verto.CauseNormalClearing)
	if p := other.Expect(t, verto.MethodBye); p["sessid"] != "sess-2" || p["cause"] != "NORMAL_CLEARING" {
		t.Errorf("bye %v", p)
	}
}

func TestOriginateFailures(t *testing.T) {
	e := newEnv(t, func(o *xrtc.Options) { o.InviteTimeout = 300 * time.Millisecond })
	e.ctrl.Serve(t, "cn.xswitch.ctrl.rtc", "", func(m *verto.Message) *verto.Message {
		var p verto.ServerCallParams
		_ = m.DecodeParams(&p)
		switch p.Login {
		case "nobody@xswitch.cn":
			return verto.NewError(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgNotRegistered})
		case "busy@xswitch.cn":
			return verto.NewError(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: "USER_BUSY"})
		}
		return nil // silence: the node times out
	})
	for _, tc := range []struct {
		target string
		cause  verto.Cause
	}{
		{"nobody@xswitch.cn", verto.CauseUserNotRegistered},
		{"busy@xswitch.cn", verto.CauseUserBusy},
		{"slow@xswitch.cn", verto.CauseNoUserResponse},
		{"custom/x@y", verto.CauseNoUserResponse}, // nobody listens on cn.xswitch.ctrl.custom
	} {
		ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: tc.target})
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		e.host.Channel(ch.UUID()).Expect(t, "hangup:"+tc.cause.String(), "offer")
		if _, ok := e.ep.Call(ch.UUID()); ok {
			t.Errorf("%s: call still there", tc.target)
		}
	}
	for _, tc := range []struct {
		target string
		cause  verto.Cause
	}{
		{"nosuch/1000@xswitch.cn", verto.CauseChannelUnacceptable},
		{"", verto.CauseInvalidNumberFormat},
		{"a b@c", verto.CauseInvalidNumberFormat},
	} {
		_, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: tc.target})
		var ce *xrtc.CauseError
		if !errors.As(err, &ce) || ce.Cause != tc.cause || xrtc.CauseOf(err) != tc.cause {
			t.Errorf("%q: err %v, want %s", tc.target, err, tc.cause)
		}
	}
}

func TestOriginateSubjects(t *testing.T) {
	e := newEnv(t)
	got := make(chan string, 16)
	for _, s := range []string{"cn.xswitch.ctrl.rtc", "cn.xswitch.ctrl.custom", "cn.xswitch.ctrl.c-param", "cn.xswitch.ctrl.c-var", "cn.xswitch.ctrl.c-xcc"} {
		s := s
		e.ctrl.Serve(t, s, "", func(m *verto.Message) *verto.Message {
			var p verto.ServerCallParams
			_ = m.DecodeParams(&p)
			got <- s + " " + p.Login
			return verto.NewError(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgNotRegistered})
		})
	}
	for _, tc := range []struct {
		target string
		vars   map[string]string
		want   string
	}{
		{"1000@xswitch.cn", nil, "cn.xswitch.ctrl.rtc 1000@xswitch.cn"},
		{"default/1000@xswitch.cn", nil, "cn.xswitch.ctrl.rtc 1000@xswitch.cn"},
		{"1000", nil, "cn.xswitch.ctrl.rtc 1000@xswitch.cn"},               // the switch's domain
		{"custom/1000", nil, "cn.xswitch.ctrl.custom 1000@custom.example"}, // force-register-domain
		{"1000@d;ctrl_uuid=c-param", map[string]string{"ctrl_uuid": "c-var", "xcc_ctrl_uuid": "c-xcc"}, "cn.xswitch.ctrl.c-param 1000@d"},
		{"1000@d", map[string]string{"ctrl_uuid": "c-var", "xcc_ctrl_uuid": "c-xcc"}, "cn.xswitch.ctrl.c-var 1000@d"},
		{"custom/1000@d", map[string]string{"xcc_ctrl_uuid": "c-xcc"}, "cn.xswitch.ctrl.c-xcc 1000@d"},
	} {
		ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: tc.target, Vars: tc.vars})
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		select {
		case s := <-got:
			if s != tc.want {
				t.Errorf("%s %v: invite went to %q, want %q", tc.target, tc.vars, s, tc.want)
			}
		case <-time.After(xrtctest.Wait):
			t.Fatalf("%s: no invite", tc.target)
		}
		e.host.Channel(ch.UUID()).Expect(t, "hangup:USER_NOT_REGISTERED", "offer")
	}
}

func TestOriginateRingTimeoutAndCancel(t *testing.T) {
	e := newEnv(t)
	invites := ringing(t, e, "cn.xswitch.ctrl.rtc", ctrlUUID)
	ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn", Vars: map[string]string{"leg_timeout": "30"}})
	if err != nil {
		t.Fatal(err)
	}
	fch := e.host.NextChannel(t)
	nextInvite(t, invites)
	fch.Expect(t, "ringing", "offer")
	e.clock.Advance(29 * time.Second)
	fch.NoEvent(t)
	e.clock.Advance(time.Second)
	fch.Expect(t, "hangup:NO_ANSWER")
	p := e.ctrl.Expect(t, verto.MethodBye)
	if p["callID"] != ch.UUID() || p["cause"] != "NO_ANSWER" || p["causeCode"] != 19.0 {
		t.Errorf("bye %v", p)
	}
	if _, has := p["sessid"]; has {
		t.Errorf("bye to a ringing call names a socket: %v", p)
	}

	// The originator gives up while the user's phone rings.
	ch, _ = e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	fch = e.host.NextChannel(t)
	nextInvite(t, invites)
	fch.Expect(t, "ringing", "offer")
	e.ep.ChannelHangup(ch.UUID(), verto.CauseOriginatorCancel)
	if p := e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "ORIGINATOR_CANCEL" {
		t.Errorf("bye %v", p)
	}

	// The user declines: the other ringing XCtrls are told.
	ch, _ = e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	fch = e.host.NextChannel(t)
	nextInvite(t, invites)
	fch.Expect(t, "ringing", "offer")
	r := xrtctest.Result(t, e.call(verto.MethodBye, ch.UUID(), map[string]any{"cause": "CALL_REJECTED"}))
	if r["cause"] != "CALL_REJECTED" {
		t.Errorf("bye result %v", r)
	}
	fch.Expect(t, "hangup:CALL_REJECTED")
	if p := e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "CALL_REJECTED" {
		t.Errorf("bye %v", p)
	}
}

func TestOriginateAnswerErrors(t *testing.T) {
	e := newEnv(t)
	invites := ringing(t, e, "cn.xswitch.ctrl.rtc", ctrlUUID)
	ch, _ := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	fch := e.host.NextChannel(t)
	nextInvite(t, invites)
	fch.Expect(t, "ringing", "offer")
	if msg := errMsg(t, e.call(verto.MethodAnswer, ch.UUID(), nil)); msg != verto.MsgSDPMissing {
		t.Errorf("answer without sdp: %s", msg)
	}
	if msg := errMsg(t, e.call(verto.MethodAnswer, ch.UUID(), map[string]any{"sdp": "garbage"})); msg != "CODEC ERROR" {
		t.Errorf("answer with bad sdp: %s", msg)
	}
	fch.Expect(t, "hangup:INCOMPATIBLE_DESTINATION")
	var p map[string]any
	if p = e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "INCOMPATIBLE_DESTINATION" {
		t.Errorf("bye %v", p)
	}
	b, _ := json.Marshal(p)
	_ = b
}

// On a switch that finishes setting up an outbound channel after
// NewOutboundCall (FreeSWITCH: originator_codec, proxy mode and the
// originate's variables come after outgoing_channel), the offer is made
// only when the switch starts the channel (ChannelInit, on its thread), as
// mod_verto makes it in verto_on_init.
func TestOfferOnInit(t *testing.T) {
	e := newEnv(t)
	e.host.LateOffer = true
	invites := ringing(t, e, "cn.xswitch.ctrl.rtc", ctrlUUID)
	ch, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	if err != nil {
		t.Fatal(err)
	}
	fch := e.host.NextChannel(t)
	e.ep.ChannelInit("no-such-call") // nothing to do
	if ci, _ := e.ep.Call(ch.UUID()); ci.State != "new" {
		t.Fatalf("state %s before ChannelInit", ci.State)
	}
	fch.NoEvent(t) // no offer yet
	e.ep.ChannelInit(ch.UUID())
	fch.Expect(t, "offer") // made by ChannelInit itself, on the switch's thread
	if inv := nextInvite(t, invites); inv.CallID != ch.UUID() || inv.SDP == "" {
		t.Fatalf("invite %+v", inv)
	}
	fch.Expect(t, "ringing")
	e.ep.ChannelInit(ch.UUID()) // once only
	fch.NoEvent(t)

	// A channel the switch destroys before starting it: the call ends, and
	// nobody is told (no invite went out).
	ch2, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	if err != nil {
		t.Fatal(err)
	}
	e.host.NextChannel(t)
	e.ep.ChannelHangup(ch2.UUID(), verto.CauseOriginatorCancel)
	waitGone(t, e, ch2.UUID())
	e.ep.ChannelInit(ch2.UUID())

	// An offer that fails hangs the call up.
	ch3, err := e.ep.Originate(context.Background(), xrtc.OriginateRequest{Target: "1000@xswitch.cn"})
	if err != nil {
		t.Fatal(err)
	}
	fch3 := e.host.NextChannel(t)
	fch3.FailOffer(errors.New("no ports"))
	e.ep.ChannelInit(ch3.UUID())
	fch3.Expect(t, "hangup:DESTINATION_OUT_OF_ORDER")
	waitGone(t, e, ch3.UUID())
	select {
	case inv := <-invites:
		t.Errorf("a message about a call that never rang: %+v", inv)
	default:
	}
}

// waitGone waits until the endpoint has forgotten the call.
func waitGone(t *testing.T, e *env, uuid string) {
	t.Helper()
	deadline := time.Now().Add(xrtctest.Wait)
	for {
		if _, ok := e.ep.Call(uuid); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s still there", uuid)
		}
		time.Sleep(time.Millisecond) // polling a condition
	}
}
