package xrtc_test

import (
	"testing"

	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// strangerParams are the params XCtrl relays for a socket of another user
// that names someone else's callID.
func strangerParams(callID string, extra map[string]any) map[string]any {
	p := map[string]any{"sessid": "sess-evil", "xrtc_user": map[string]any{"login": "1001@xswitch.cn", "id": "1001", "domain": "xswitch.cn"},
		"dialogParams": map[string]any{"callID": callID}}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// A logged-in client that learnt another user's callID cannot act on that
// call: bye, hold, transfer, DTMF, a re-attach answer, an attended transfer
// with it. Each is answered CALL DOES NOT EXIST and the call goes on.
// Another socket of the same user may (the user's own call).
func TestOtherClientsCannotActOnACall(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-own")
	mine := e.answered("call-mine-2")
	for _, c := range []struct {
		method string
		extra  map[string]any
	}{
		{verto.MethodBye, nil},
		{verto.MethodModify, map[string]any{"action": "hold"}},
		{verto.MethodModify, map[string]any{"action": "transfer", "destination": "9999"}},
		{verto.MethodInfo, map[string]any{"dtmf": "1234"}},
		{verto.MethodAttach, map[string]any{"sdp": goodSDP}},
		{verto.MethodAnswer, map[string]any{"sdp": goodSDP}},
	} {
		rep := e.ctrl.Send(t, e.node, c.method, strangerParams("call-own", c.extra))
		if msg := errMsg(t, rep); msg != verto.MsgCallNotExist {
			t.Errorf("%s %v by another user: %q, want %q", c.method, c.extra, msg, verto.MsgCallNotExist)
		}
	}
	ch.NoEvent(t)
	if ci, _ := e.ep.Call("call-own"); ci.State != "active" || ci.Sessid != sessid {
		t.Fatalf("the call after a stranger's requests: %+v", ci)
	}
	// A stranger's sessid without a user is refused the same way.
	noUser := map[string]any{"sessid": "sess-evil", "action": "hold", "dialogParams": map[string]any{"callID": "call-own"}}
	if msg := errMsg(t, e.ctrl.Send(t, e.node, verto.MethodModify, noUser)); msg != verto.MsgCallNotExist {
		t.Errorf("hold by a sessid without a user: %q", msg)
	}
	// An attended transfer from the stranger's own call with the owner's.
	stranger := e.ctrl.Send(t, e.node, verto.MethodInvite, strangerParams("call-evil", map[string]any{"sdp": goodSDP,
		"dialogParams": map[string]any{"callID": "call-evil", "destination_number": "9196"}}))
	xrtctest.Result(t, stranger)
	evil := e.host.NextChannel(t)
	rep := e.ctrl.Send(t, e.node, verto.MethodModify, strangerParams("call-evil", map[string]any{"action": "replace", "replaceCallID": "call-own"}))
	if msg := errMsg(t, rep); msg != "invalid transfer leg" {
		t.Errorf("replace with another user's call: %q", msg)
	}
	evil.NoEvent(t)
	// The owner's other socket: the same user's call.
	other := map[string]any{"sessid": "sess-2", "xrtc_user": user(), "action": "hold", "dialogParams": map[string]any{"callID": "call-own"}}
	if r := xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodModify, other)); r["holdState"] != "held" {
		t.Errorf("hold by the user's other socket: %v", r)
	}
	ch.Expect(t, "hold:true")
	// The owner's attended transfer between its two calls.
	if r := xrtctest.Result(t, e.call(verto.MethodModify, "call-own", map[string]any{"action": "replace", "replaceCallID": "call-mine-2"})); r["action"] != "replace" {
		t.Errorf("replace between the user's calls: %v", r)
	}
	ch.Expect(t, "replace:call-mine-2")
	_ = mine
	mustContain(t, e.ep.API("status"), "8 on others' calls")
}

// A call from the switch to a user, not answered yet: only that user's
// sockets may answer or refuse it.
func TestOnlyTheCalledUserAnswers(t *testing.T) {
	e := newEnv(t)
	ch, fch := ringingUser(t, e)
	for _, m := range []string{verto.MethodAnswer, verto.MethodBye} {
		rep := e.ctrl.Send(t, e.node, m, strangerParams(ch.UUID(), map[string]any{"sdp": goodSDP}))
		if msg := errMsg(t, rep); msg != verto.MsgCallNotExist {
			t.Errorf("%s by another user of a call to 1000: %q", m, msg)
		}
	}
	if ci, _ := e.ep.Call(ch.UUID()); ci.State != "ringing" {
		t.Fatalf("state after a stranger's answer: %s", ci.State)
	}
	rep := e.ctrl.Send(t, e.node, verto.MethodAnswer, map[string]any{"sessid": "sess-3", "sdp": goodSDP, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": ch.UUID()}})
	xrtctest.Result(t, rep)
	fch.Expect(t, "remote-answer")
}

// A login of another user with the sessid of a socket that closed (its
// registry entry gone with it) is not offered that socket's detached call;
// the user's own login is.
func TestLoginWithAnotherUsersSessid(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-s")
	e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	ch.Expect(t, "detach")
	for _, u := range []any{map[string]any{"login": "1001@xswitch.cn", "id": "1001", "domain": "xswitch.cn"}, nil} {
		p := map[string]any{"sessid": sessid}
		if u != nil {
			p["xrtc_user"] = u
		}
		var lr verto.LoginReply
		if err := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, p).DecodeResult(&lr); err != nil || len(lr.Reattached) != 0 {
			t.Fatalf("login as %v with the call's sessid re-attached %v (%v)", u, lr.Reattached, err)
		}
		ch.NoEvent(t)
		rep := e.ctrl.Send(t, e.node, verto.MethodAttach, strangerParams("call-s", map[string]any{"sessid": sessid, "sdp": goodSDP}))
		if msg := errMsg(t, rep); msg != verto.MsgCallNotExist {
			t.Errorf("attach after the stranger's login: %q", msg)
		}
	}
	if ci, _ := e.ep.Call("call-s"); ci.State != "detached" {
		t.Fatalf("state %s", ci.State)
	}
	var lr verto.LoginReply
	if err := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()}).DecodeResult(&lr); err != nil ||
		len(lr.Reattached) != 1 {
		t.Fatalf("the user's own login: %v %v", lr.Reattached, err)
	}
	ch.Expect(t, "offer")
}
