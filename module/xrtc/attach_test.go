package xrtc_test

import (
	"testing"
	"time"

	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

func TestDetachAndReattach(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-r")
	e.invite("call-u", "9197") // not answered: cannot survive the socket
	chU := e.host.Channel("call-u")

	e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	ch.Expect(t, "detach")
	chU.Expect(t, "hangup:DESTINATION_OUT_OF_ORDER")
	if ci, _ := e.ep.Call("call-r"); ci.State != "detached" {
		t.Fatalf("state %s", ci.State)
	}
	// No media watch while detached.
	e.clock.Advance(60 * time.Second)
	ch.NoEvent(t)

	// The same sessid logs in again, on another XCtrl.
	ctrl2 := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	rep := ctrl2.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()})
	var lr verto.LoginReply
	if err := rep.DecodeResult(&lr); err != nil || len(lr.Reattached) != 1 || lr.Reattached[0] != "call-r" || lr.NodeUUID != nodeUUID {
		t.Fatalf("login reply %s %v", rep.Result, err)
	}
	ch.Expect(t, "offer")
	p := ctrl2.Expect(t, verto.MethodAttach)
	if p["callID"] != "call-r" || p["sdp"] == nil || p["sessid"] != sessid || p["caller_id_number"] != "1000" {
		t.Fatalf("verto.attach %v", p)
	}
	e.ctrl.ExpectNothing(t)
	// The old XCtrl learns late that its socket is gone: its xrtc.detach
	// must not undo the re-attach on ctrl-2.
	// (Sent as a request: its reply comes once the detach is queued on the
	// call, so the attach below is handled after it.)
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid}))
	// The client answers the attach offer.
	rep = ctrl2.Send(t, e.node, verto.MethodAttach, map[string]any{"sessid": sessid, "xrtc_user": user(), "sdp": goodSDP, "dialogParams": map[string]any{"callID": "call-r"}})
	xrtctest.Result(t, rep)
	ch.Expect(t, "remote-answer")
	ci, _ := e.ep.Call("call-r")
	if ci.State != "active" || ci.CtrlUUID != "ctrl-2" {
		t.Fatalf("after attach %+v", ci)
	}
	// The detach timer stopped; messages now go to the new XCtrl.
	e.clock.Advance(4 * time.Second)
	ch.AddRTP(10)
	e.clock.Advance(120 * time.Second) // ... but the media watch runs again
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
	if p := ctrl2.Expect(t, verto.MethodBye); p["cause"] != "MEDIA_TIMEOUT" {
		t.Errorf("bye %v", p)
	}
}

func TestDetachTimeout(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-d")
	e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	ch.Expect(t, "detach")
	e.clock.Advance(119 * time.Second)
	ch.NoEvent(t)
	e.clock.Advance(time.Second)
	ch.Expect(t, "hangup:RECOVERY_ON_TIMER_EXPIRE")
	e.ctrl.ExpectNothing(t) // the socket is gone: nobody to tell
	// A login now finds nothing to re-attach.
	rep := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid})
	var lr verto.LoginReply
	if err := rep.DecodeResult(&lr); err != nil || len(lr.Reattached) != 0 {
		t.Fatalf("login reply %s", rep.Result)
	}
}

func TestAttachErrors(t *testing.T) {
	e := newEnv(t)
	e.invite("call-a", "9196")
	if msg := errMsg(t, e.call(verto.MethodAttach, "call-a", map[string]any{"sdp": goodSDP})); msg != "Cannot attach to a call that has not been answered." {
		t.Errorf("attach unanswered: %s", msg)
	}
	if msg := errMsg(t, e.call(verto.MethodAttach, "nope", map[string]any{"sdp": goodSDP})); msg != verto.MsgCallNotExist {
		t.Errorf("attach unknown: %s", msg)
	}
	// A re-offer whose answer does not negotiate hangs the call up.
	ch := e.answered("call-b")
	e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	ch.Expect(t, "detach")
	rep := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()})
	xrtctest.Result(t, rep)
	e.ctrl.Expect(t, verto.MethodAttach)
	if msg := errMsg(t, e.call(verto.MethodAttach, "call-b", map[string]any{"sdp": "v=0 no audio"})); msg != "CODEC NEGOTIATION ERROR" {
		t.Errorf("attach bad sdp: %s", msg)
	}
	ch.Expect(t, "hangup:INCOMPATIBLE_DESTINATION", "offer")
}

func TestNoRecoverCallEndsOnDetach(t *testing.T) {
	e := newEnv(t)
	rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{
		"sessid": sessid, "sdp": goodSDP,
		"dialogParams": map[string]any{"callID": "call-nr", "destination_number": "9196", "recoverCall": false},
	})
	xrtctest.Result(t, rep)
	ch := e.host.NextChannel(t)
	e.ep.ChannelAnswer("call-nr", "v=0")
	e.ctrl.Expect(t, verto.MethodAnswer)
	e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	ch.Expect(t, "hangup:DESTINATION_OUT_OF_ORDER")
}

// A client that places a call right after its login result: the invite may
// reach the node before XCtrl's xrtc.login for that login. The login must
// leave the new socket's own calls alone, answered or not.
func TestLoginAfterOwnInvite(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-own")
	e.invite("call-ringing", "9197")
	chR := e.host.Channel("call-ringing")
	rep := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()})
	var lr verto.LoginReply
	if err := rep.DecodeResult(&lr); err != nil || len(lr.Reattached) != 0 {
		t.Fatalf("login reply %s %v", rep.Result, err)
	}
	ch.NoEvent(t)
	chR.NoEvent(t)
	e.ctrl.ExpectNothing(t)
	if ci, _ := e.ep.Call("call-ringing"); ci.State == "hangup" {
		t.Fatalf("the new socket's ringing call was dropped: %+v", ci)
	}
	if ci, _ := e.ep.Call("call-own"); ci.State != "active" {
		t.Fatalf("the new socket's call: %+v", ci)
	}
}

// A page reload on the same XCtrl: its xrtc.detach and then, at once, the
// new socket's xrtc.login for the same sessid. The login is handled after
// the detach has detached the call (both queue on the call), so the call is
// offered again, not taken for one the new socket placed itself.
func TestLoginRightAfterDetach(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-reload")
	for i := 0; i < 20; i++ {
		e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
		rep := e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()})
		var lr verto.LoginReply
		if err := rep.DecodeResult(&lr); err != nil || len(lr.Reattached) != 1 || lr.Reattached[0] != "call-reload" {
			t.Fatalf("round %d: login reply %s %v", i, rep.Result, err)
		}
		e.ctrl.Expect(t, verto.MethodAttach)
		xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodAttach, map[string]any{"sessid": sessid, "xrtc_user": user(), "sdp": goodSDP, "dialogParams": map[string]any{"callID": "call-reload"}}))
		ch.Expect(t, "remote-answer", "detach", "offer")
	}
}
