package xrtc_test

import (
	"strings"
	"testing"

	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// A client SDP whose ICE credentials are longer than any ICE agent sends
// never reaches the switch, on any of the four ways a client's SDP goes in
// (invite, answer, attach, updateMedia). FreeSWITCH writes its STUN binding
// requests, USERNAME "<its ufrag>:<the client's>", into a 256-byte buffer
// without a bound (switch_rtp.c, ice_out). Found by trying: hostile-sdp's
// 60 KB ice-ufrag crashed FreeSWITCH in half of the integration runs
// (SIGSEGV in ice_out, its stack overwritten with the ufrag's bytes).
func TestLongICECredentialsNeverReachTheSwitch(t *testing.T) {
	e := newEnv(t)
	withICE := func(ufrag, pwd string) string {
		return goodSDP + "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\n"
	}
	pwd := strings.Repeat("p", 24)
	bad := map[string]string{
		"long ufrag":             withICE(strings.Repeat("u", 65), pwd),
		"60 KB ufrag":            withICE(strings.Repeat("u", 60<<10), pwd),
		"long pwd":               withICE("abcd", strings.Repeat("p", 257)),
		"ufrag at session level": strings.Replace(withICE("abcd", pwd), "m=audio", "a=ice-ufrag:"+strings.Repeat("u", 100)+"\r\nm=audio", 1),
		"ufrag ending the SDP":   goodSDP + "a=ice-ufrag:" + strings.Repeat("u", 100),
		"ufrag in upper case":    goodSDP + "a=ICE-Ufrag:" + strings.Repeat("u", 100) + "\r\n",
		"lines cut by CR alone":  goodSDP + "a=rtcp-mux\ra=ice-ufrag:" + strings.Repeat("u", 100) + "\r\n",
		"blanks around":          goodSDP + " \ta= ice-ufrag \t:" + strings.Repeat("u", 100) + "\n",
		// The SDP is kept in a channel variable, which FreeSWITCH refuses
		// to set when it would expand it, with a CRIT line in its log.
		"a variable reference": goodSDP + "a=x-note:${system(id)}\r\n",
	}
	for name, sdp := range bad {
		t.Run(name, func(t *testing.T) {
			rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{
				"sessid": sessid, "sdp": sdp, "xrtc_user": user(),
				"dialogParams": map[string]any{"callID": "ice-" + name, "destination_number": "9196"},
			})
			var cause string
			if rep.Error == nil || rep.Error.Message != verto.MsgCallError || !rep.Error.Field("cause", &cause) ||
				cause != verto.CauseIncompatibleDestination.String() {
				t.Errorf("invite: %+v %s", rep.Error, rep.Result)
			}
		})
	}
	if ch := e.host.Channel("ice-60 KB ufrag"); ch != nil {
		t.Errorf("the switch got a channel for the 60 KB ufrag")
	}
	// What browsers and pion send (4 to 32 characters) goes through, and
	// so does 64, which still fits FreeSWITCH's buffer.
	for _, n := range []int{4, 16, 32, 64} {
		rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{
			"sessid": sessid, "sdp": withICE(strings.Repeat("u", n), strings.Repeat("p", 256)), "xrtc_user": user(),
			"dialogParams": map[string]any{"callID": "ice-ok-" + strings.Repeat("x", n), "destination_number": "9196"},
		})
		xrtctest.Result(t, rep)
		e.host.NextChannel(t)
	}

	long := withICE(strings.Repeat("u", 200), pwd)
	// The client's answer to a call from the switch.
	_, fch := ringingUser(t, e)
	rep := e.ctrl.Send(t, e.node, verto.MethodAnswer, map[string]any{"sessid": sessid, "sdp": long, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": fch.UUID()}})
	if msg := errMsg(t, rep); msg != "CODEC ERROR" {
		t.Errorf("answer: %s", msg)
	}
	fch.Expect(t, "hangup:INCOMPATIBLE_DESTINATION")
	if p := e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "INCOMPATIBLE_DESTINATION" {
		t.Errorf("bye after the refused answer: %v", p)
	}
	// A re-offer's answer, and a new offer on an answered call.
	ch := e.answered("ice-media")
	if msg := errMsg(t, e.call(verto.MethodModify, "ice-media", map[string]any{"action": "updateMedia", "sdp": long})); msg != "CODEC ERROR" {
		t.Errorf("updateMedia: %s", msg)
	}
	e.ctrl.Notify(t, e.node, verto.MethodXrtcDetach, map[string]any{"sessid": sessid})
	ch.Expect(t, "detach")
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodXrtcLogin, map[string]any{"sessid": sessid, "xrtc_user": user()}))
	e.ctrl.Expect(t, verto.MethodAttach)
	if msg := errMsg(t, e.call(verto.MethodAttach, "ice-media", map[string]any{"sdp": long})); msg != "CODEC NEGOTIATION ERROR" {
		t.Errorf("attach: %s", msg)
	}
	ch.Expect(t, "hangup:INCOMPATIBLE_DESTINATION", "offer")
}
