package xrtc_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// The mod_verto indications and controls of issue 12 (prompt, media
// params, display, re-negotiation, hold, replace, real-time text,
// recovery) on the fake host: what the client is sent, field by field.

func TestPromptAndMediaParams(t *testing.T) {
	e := newEnv(t)
	e.answered("call-p")
	if err := e.ep.ChannelPrompt("call-p", xrtc.Prompt{Type: "dtmf", Text: "Enter your PIN", Regex: `^\d{4}$`}); err != nil {
		t.Fatal(err)
	}
	p := e.ctrl.Expect(t, verto.MethodPrompt)
	if p["callID"] != "call-p" || p["type"] != "dtmf" || p["text"] != "Enter your PIN" || p["regex"] != `^\d{4}$` || p["sessid"] != sessid {
		t.Errorf("verto.prompt %v", p)
	}
	if err := e.ep.ChannelPrompt("call-p", xrtc.Prompt{Type: "Message", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	if p := e.ctrl.Expect(t, verto.MethodPrompt); p["type"] != "Message" || p["text"] != "hello" || p["regex"] != nil {
		t.Errorf("verto.prompt %v", p)
	}
	for _, bad := range []xrtc.Prompt{{Type: "voice", Text: "x"}, {Type: "dtmf"}, {}} {
		if err := e.ep.ChannelPrompt("call-p", bad); !errors.Is(err, xrtc.ErrBadIndication) {
			t.Errorf("prompt %+v: %v", bad, err)
		}
	}
	params := json.RawMessage(`{"video":{"width":{"min":320,"ideal":640,"max":1280},"frameRate":15}}`)
	if err := e.ep.ChannelMediaParams("call-p", params); err != nil {
		t.Fatal(err)
	}
	p = e.ctrl.Expect(t, verto.MethodMediaParams)
	mp, _ := p["mediaParams"].(map[string]any)
	if p["callID"] != "call-p" || mp == nil || mp["video"].(map[string]any)["frameRate"] != float64(15) {
		t.Errorf("verto.mediaParams %v", p)
	}
	if err := e.ep.ChannelMediaParams("call-p", json.RawMessage(`{"video":`)); !errors.Is(err, xrtc.ErrBadIndication) {
		t.Errorf("bad media params: %v", err)
	}
	// Unknown calls are no error: there is nobody to tell.
	if err := e.ep.ChannelPrompt("nope", xrtc.Prompt{Type: "dtmf", Text: "x"}); err != nil {
		t.Errorf("unknown call: %v", err)
	}
	e.ctrl.ExpectNothing(t)
}

func TestDisplayFields(t *testing.T) {
	e := newEnv(t)
	e.answered("call-d")
	// Without the switch's identity: the call's own caller profile.
	e.ep.ChannelDisplay("call-d", "Bob", "2000")
	p := e.ctrl.Expect(t, verto.MethodDisplay)
	want := map[string]any{"callID": "call-d", "display_name": "Bob", "display_number": "2000",
		"caller_id_name": "Alice", "caller_id_number": "1000", "display_direction": "inbound"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("verto.display %s = %v, want %v (%v)", k, p[k], v, p)
		}
	}
	// With the switch's identity: every field set_call_params sends.
	e.ep.ChannelDisplayUpdate("call-d", xrtc.Display{Name: "Carol", Number: "3000", Identity: &xrtc.CallIdentity{
		CallerIDName: "Alice", CallerIDNumber: "1000", CalleeIDName: "Carol", CalleeIDNumber: "3000",
		Direction: "outbound", Headers: map[string]string{"verto_h_team": "blue", "other": "no"},
	}})
	p = e.ctrl.Expect(t, verto.MethodDisplay)
	for k, v := range map[string]any{"display_name": "Carol", "display_number": "3000", "callee_id_name": "Carol",
		"callee_id_number": "3000", "display_direction": "outbound", "verto_h_team": "blue"} {
		if p[k] != v {
			t.Errorf("verto.display %s = %v, want %v (%v)", k, p[k], v, p)
		}
	}
	if _, has := p["other"]; has {
		t.Errorf("a variable that is not verto_h_* went out: %v", p)
	}
}

func TestMediaRenegReoffers(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-r")
	e.ep.ChannelMediaReneg("call-r")
	ch.Expect(t, "detach")
	ch.Expect(t, "offer")
	p := e.ctrl.Expect(t, verto.MethodAttach)
	if p["callID"] != "call-r" || p["sdp"] == nil || p["display_direction"] != "inbound" || p["sessid"] != sessid {
		t.Errorf("verto.attach %v", p)
	}
	if v, ok := p["variables"].(map[string]any); !ok || len(v) != 0 {
		t.Errorf("verto.attach variables %v, want {} as mod_verto", p["variables"])
	}
	xrtctest.Result(t, e.call(verto.MethodAttach, "call-r", map[string]any{"sdp": goodSDP}))
	ch.Expect(t, "remote-answer")
	if ci, _ := e.ep.Call("call-r"); ci.State != "active" {
		t.Errorf("state after the re-offer: %s", ci.State)
	}
	// Not answered: nothing to re-offer.
	ch2 := e.invite("call-r2", "9196")
	e.ep.ChannelMediaReneg("call-r2")
	e.ep.ChannelDisplay("call-r2", "sync", "") // runs after the reneg on the same call
	ch2.NoEvent(t, "vars")
	e.ctrl.ExpectNothing(t)
}

func TestHoldIsTheSwitchs(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-h")
	modify := func(callID, action string) map[string]any {
		t.Helper()
		return xrtctest.Result(t, e.call(verto.MethodModify, callID, map[string]any{"action": action}))
	}
	// The switch held the call on its own: the client is told so, and
	// toggleHold takes it off.
	ch.SetHeld(true)
	if r := modify("call-h", "videoRefresh"); r["holdState"] != "held" {
		t.Errorf("holdState after the switch held the call: %v", r)
	}
	if r := modify("call-h", "toggleHold"); r["holdState"] != "active" {
		t.Errorf("toggleHold of a held call: %v", r)
	}
	ch.Expect(t, "hold:false", "video-refresh")
	// The switch holds and lets go on its own: the media watch applies the
	// hold timeout (10 x 5 s) while it is held, the media timeout after the
	// first sample (every quarter of the timeout in force) that sees it
	// unheld.
	ch.SetHeld(true)
	e.clock.Advance(40 * time.Second)
	ch.NoEvent(t)
	ch.SetHeld(false)
	e.clock.Advance(13 * time.Second)
	ch.NoEvent(t)
	e.clock.Advance(5 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
	e.ctrl.Expect(t, verto.MethodBye)

	// Hold before the answer: nothing happens, holdState active (mod_verto:
	// toggle_hold only holds an answered channel).
	early := e.invite("call-e", "9196")
	if r := modify("call-e", "hold"); r["holdState"] != "active" {
		t.Errorf("hold before the answer: %v", r)
	}
	early.NoEvent(t, "vars")
}

func TestReplaceWithAnySession(t *testing.T) {
	e := newEnv(t, func(o *xrtc.Options) { o.Config.Profiles["default"].ReplaceAnySession = true })
	ch := e.answered("call-x")
	replace := func(other string) *verto.Message {
		return e.call(verto.MethodModify, "call-x", map[string]any{"action": "replace", "replaceCallID": other})
	}
	e.host.AddSession("sip-leg-1") // a session of the switch that is no xrtc call
	if r := xrtctest.Result(t, replace("sip-leg-1")); r["action"] != "replace" {
		t.Errorf("replace %v", r)
	}
	ch.Expect(t, "replace:sip-leg-1")
	for other, msg := range map[string]string{"": "replaceCallID missing", "no-such": "invalid transfer leg", "call-x": "invalid transfer leg"} {
		if m := xrtctest.ErrorOf(t, replace(other)); m.Message != msg {
			t.Errorf("replace %q: %s, want %s", other, m.Message, msg)
		}
	}
}

// Without replace-any-session (the default) a client replaces only with its
// own xrtc calls and the sessions bridged to them: a session's uuid it
// learned (from presence, or a conference's liveArray) gives it no hold on
// that session.
func TestReplaceOwnCallsOnly(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-x")
	chY := e.answered("call-y")
	e.host.AddSession("sip-leg-1")
	e.host.AddSession("sip-leg-2")
	chY.SetPartner("sip-leg-2") // call-y's far end
	replace := func(other string) *verto.Message {
		return e.call(verto.MethodModify, "call-x", map[string]any{"action": "replace", "replaceCallID": other})
	}
	if m := xrtctest.ErrorOf(t, replace("sip-leg-1")); m.Message != "invalid transfer leg" {
		t.Errorf("replace with a session that is no xrtc call: %s", m.Message)
	}
	ch.NoEvent(t, "vars")
	if r := xrtctest.Result(t, replace("call-y")); r["action"] != "replace" {
		t.Errorf("replace with the client's own call: %v", r)
	}
	ch.Expect(t, "replace:call-y")
	if r := xrtctest.Result(t, replace("sip-leg-2")); r["action"] != "replace" {
		t.Errorf("replace with the far end of the client's own call: %v", r)
	}
	ch.Expect(t, "replace:sip-leg-2")
}

func TestRealTimeText(t *testing.T) {
	e := newEnv(t, func(o *xrtc.Options) { o.Config.Profiles["default"].EnableText = true })
	ch := e.answered("call-t")
	xrtctest.Result(t, e.call(verto.MethodInfo, "call-t", map[string]any{"txt": map[string]any{"chars": "hi"}}))
	ch.Expect(t, `text:{"chars":"hi"}`, "vars")
	e.ep.ChannelText("call-t", "back\r\n")
	p := e.ctrl.Expect(t, verto.MethodInfo)
	if txt, _ := p["txt"].(map[string]any); p["callID"] != "call-t" || txt["chars"] != "back\r\n" {
		t.Errorf("verto.info %v", p)
	}

	off := newEnv(t)
	ch = off.answered("call-t")
	xrtctest.Result(t, off.call(verto.MethodInfo, "call-t", map[string]any{"txt": map[string]any{"chars": "hi"}}))
	ch.NoEvent(t, "vars")
}

func TestTextOf(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{`{"chars":"abc"}`, "abc", false},
		{`{"chars":65}`, "A", false},
		{`{"code":10}`, "\n", false},
		{`{"code":0}`, "", true},
		{`{"code":70000}`, "", true},
		{`{}`, "", false},
		{`{"chars":null}`, "", false},
		{`{"chars":[1]}`, "", true},
		{`"x"`, "", true},
	} {
		got, err := xrtc.TextOf(json.RawMessage(tc.in))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("TextOf(%s) = %q, %v", tc.in, got, err)
		}
	}
}

func TestRecoverCall(t *testing.T) {
	e := newEnv(t)
	// XCtrl's queue subject of calls to users finds the socket: first not
	// yet (the browser is still reconnecting), then it is there.
	attaches := make(chan map[string]any, 8)
	found := make(chan bool, 8)
	found <- false
	found <- true
	e.ctrl.Serve(t, "cn.xswitch.ctrl.rtc", "xctrl", func(m *verto.Message) *verto.Message {
		var p map[string]any
		_ = json.Unmarshal(m.Params, &p)
		attaches <- p
		if !<-found {
			return verto.NewError(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgSessionNotFound})
		}
		r, _ := verto.NewResult(m.ID, map[string]any{"code": 200, "message": "SENT", "ctrl_uuid": ctrlUUID})
		return r
	})
	ch := e.host.Recovered("call-rec")
	err := e.ep.RecoverCall(xrtc.RecoveredCall{UUID: "call-rec", Direction: xrtc.Inbound, Profile: "default",
		Sessid: sessid, CtrlUUID: "ctrl-gone", Login: "1000@xswitch.cn", Destination: "9196",
		Caller: xrtc.CallerProfile{CallerIDName: "Alice", CallerIDNumber: "1000"}}, ch)
	if err != nil {
		t.Fatal(err)
	}
	if ci, _ := e.ep.Call("call-rec"); ci.State != "detached" {
		t.Fatalf("recovered call %+v", ci)
	}
	inited := make(chan struct{})
	retry := e.clock.Armed(2 * time.Second)
	go func() { e.ep.ChannelInit("call-rec"); close(inited) }()
	ch.Expect(t, "offer")
	p := <-attaches
	if p["callID"] != "call-rec" || p["sessid"] != sessid || p["sdp"] == nil || p["caller_id_name"] != "Alice" {
		t.Errorf("verto.attach %v", p)
	}
	<-retry
	e.clock.Advance(2 * time.Second) // tried again
	<-attaches
	// The client answers: the switch's thread goes on.
	xrtctest.Result(t, e.call(verto.MethodAttach, "call-rec", map[string]any{"sdp": goodSDP}))
	<-inited
	ch.Expect(t, "remote-answer")
	if ci, _ := e.ep.Call("call-rec"); ci.State != "active" || ci.CtrlUUID != ctrlUUID {
		t.Errorf("re-attached call %+v", ci)
	}

	// Nobody comes back: the detach timeout ends it, quietly.
	ch2 := e.host.Recovered("call-rec2")
	for _, bad := range []xrtc.RecoveredCall{
		{UUID: "call-rec2", Profile: "default"},              // no socket
		{UUID: "call-rec2", Profile: "gone", Sessid: sessid}, // no profile
	} {
		if err := e.ep.RecoverCall(bad, ch2); err == nil {
			t.Errorf("recovered %+v", bad)
		}
	}
	if err := e.ep.RecoverCall(xrtc.RecoveredCall{UUID: "call-rec2", Profile: "default", Sessid: "sess-away"}, ch2); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(121 * time.Second)
	ch2.Expect(t, "hangup:RECOVERY_ON_TIMER_EXPIRE")
}
