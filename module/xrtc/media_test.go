package xrtc_test

import (
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

func TestMediaTimeoutAfterSilence(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-silent")
	// Media for a while, then the client stops sending RTP (STUN and RTCP
	// may go on: the counter only moves with RTP media).
	for i := 0; i < 3; i++ {
		ch.AddRTP(50)
		e.clock.Advance(time.Second)
	}
	e.clock.Advance(4 * time.Second)
	ch.NoEvent(t)
	e.clock.Advance(2 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
	p := e.ctrl.Expect(t, verto.MethodBye)
	if p["callID"] != "call-silent" || p["cause"] != "MEDIA_TIMEOUT" || p["causeCode"] != 804.0 || p["sessid"] != sessid {
		t.Fatalf("bye %v", p)
	}
	if _, ok := e.ep.Call("call-silent"); ok {
		t.Error("call still there")
	}
	// Even a call that never sends a packet times out.
	ch = e.answered("call-never")
	e.clock.Advance(7 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
	e.ctrl.Expect(t, verto.MethodBye)
}

func TestNoMediaTimeoutWhileRTPFlows(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-talk")
	// A muted browser still sends (silent) RTP: 50 packets a second.
	for i := 0; i < 60; i++ {
		ch.AddRTP(50)
		e.clock.Advance(time.Second)
	}
	ch.NoEvent(t)
	e.ctrl.ExpectNothing(t)
	if ci, ok := e.ep.Call("call-talk"); !ok || ci.State != "active" {
		t.Fatalf("call %+v", ci)
	}
}

func TestMediaTimeoutOnHoldUsesHoldTimeout(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-held")
	xrtcResult(t, e, "call-held", "hold")
	ch.Expect(t, "hold:true")
	// 5 s media-timeout does not apply on hold: 10 x 5 s does.
	e.clock.Advance(45 * time.Second)
	ch.NoEvent(t)
	e.clock.Advance(10 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
	if p := e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "MEDIA_TIMEOUT" {
		t.Errorf("bye %v", p)
	}
}

func TestMediaHoldTimeoutSetting(t *testing.T) {
	e := newEnv(t, func(o *xrtc.Options) { o.Config.Profiles["default"].MediaHoldTimeout = 8 * time.Second })
	ch := e.answered("call-held")
	xrtcResult(t, e, "call-held", "hold")
	ch.Expect(t, "hold:true")
	e.clock.Advance(7 * time.Second)
	ch.NoEvent(t)
	// Unhold restarts the watch with the media timeout.
	xrtcResult(t, e, "call-held", "unhold")
	ch.Expect(t, "hold:false")
	e.clock.Advance(4 * time.Second)
	ch.NoEvent(t)
	e.clock.Advance(3 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
}

func TestMediaTimeoutOff(t *testing.T) {
	e := newEnv(t, func(o *xrtc.Options) { o.Config.Profiles["default"].MediaTimeout = 0 })
	ch := e.answered("call-off")
	e.clock.Advance(time.Hour)
	ch.NoEvent(t)
}

func TestEarlyMediaIsWatched(t *testing.T) {
	e := newEnv(t)
	ch := e.invite("call-early", "9195")
	e.ep.ChannelProgress("call-early", "v=0 early")
	e.ctrl.Expect(t, verto.MethodMedia)
	e.clock.Advance(7 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
}

func xrtcResult(t *testing.T, e *env, callID, action string) {
	t.Helper()
	m := e.call(verto.MethodModify, callID, map[string]any{"action": action})
	if m.Error != nil {
		t.Fatalf("%s: %v", action, m.Error)
	}
}

// Media that bypasses the switch (bypass_media, proxy mode) cannot be
// counted there: such a call has no media watch and is never hung up for
// silence.
func TestNoMediaWatchWhenMediaBypassesTheSwitch(t *testing.T) {
	e := newEnv(t)
	ch := e.invite("call-bypass", "9196")
	ch.SetBypass(true)
	e.ep.ChannelAnswer("call-bypass", "v=0 answer")
	e.ctrl.Expect(t, verto.MethodAnswer)
	e.clock.Advance(time.Minute)
	ch.NoEvent(t)
	if ci, ok := e.ep.Call("call-bypass"); !ok || ci.State != "active" {
		t.Fatalf("call %+v", ci)
	}
	// Media back in the switch (bypass off) at the next start of the watch
	// (hold/unhold, re-attach): the watch runs again.
	ch.SetBypass(false)
	xrtcResult(t, e, "call-bypass", "hold")
	ch.Expect(t, "hold:true")
	e.clock.Advance(51 * time.Second)
	ch.Expect(t, "hangup:MEDIA_TIMEOUT")
}
