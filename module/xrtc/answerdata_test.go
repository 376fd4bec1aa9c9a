package xrtc_test

import (
	"testing"

	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// The answer of a call to a user puts everything about the callee on the
// channel before the channel is marked answered (mod_verto:
// switch_ivr_set_user and the callee id, then switch_channel_mark_answered),
// so that CHANNEL_ANSWER, CDRs and the dialplan's next step see it; the
// answering user's directory variables win over the variables the client
// sent at login, as on the calls it places.
func TestAnswerDataBeforeAnswered(t *testing.T) {
	e := newEnv(t)
	ch, fch := ringingUser(t, e)
	u := user()
	u["variables"] = map[string]string{"toll_allow": "local", "accountcode": "1000"}
	u["user_variables"] = map[string]any{"toll_allow": "domestic,international,local", "accountcode": "9999",
		"verto_user": "admin@evil", "event_channel_cookie": "someone-else", "x_note": "hi"}
	u["client_address"] = "203.0.113.7"
	u["client_port"] = 50123
	rep := e.ctrl.Send(t, e.node, verto.MethodAnswer, map[string]any{"sessid": "sess-9", "sdp": goodSDP, "xrtc_user": u,
		"dialogParams": map[string]any{"callID": ch.UUID(), "callee_id_name": "Alice", "callee_id_number": "1000"}})
	xrtctest.Result(t, rep)
	fch.Expect(t, "remote-answer")
	fch.Expect(t, "vars")
	fch.Expect(t, "answered")
	for k, want := range map[string]string{
		"toll_allow": "local", "accountcode": "1000", "x_note": "hi",
		"verto_user": "1000@xswitch.cn", "presence_id": "1000@xswitch.cn", "verto_host": "xswitch.cn",
		"user_name": "1000", "domain_name": "xswitch.cn",
		"event_channel_cookie": "sess-9", "jsock_uuid_str": "sess-9", "xrtc_ctrl_uuid": ctrlUUID,
		"callee_id_name": "Alice", "callee_id_number": "1000",
		"verto_client_address": "203.0.113.7:50123",
	} {
		if got := fch.Var(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// The client's address XCtrl asserts (xrtc_user.client_address,
// client_port) becomes what mod_verto sets from its WebSocket peer:
// verto_client_address ("ip:port", "[ipv6]:port") and the caller profile's
// network_addr (the IP), for ACLs, CDRs and fail2ban-style tools.
func TestClientAddressOnInvite(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []struct {
		addr       any
		port       any
		want, ip   string
		noVariable bool
	}{
		{addr: "2001:db8::1", port: 443, want: "[2001:db8::1]:443", ip: "2001:db8::1"},
		{addr: "198.51.100.2", want: "198.51.100.2", ip: "198.51.100.2"},
		{addr: "198.51.100.3", port: 70000, want: "198.51.100.3", ip: "198.51.100.3"},
		{addr: "not-an-ip", port: 1, noVariable: true},
		{noVariable: true},
	} {
		u := user()
		if tc.addr != nil {
			u["client_address"] = tc.addr
		}
		if tc.port != nil {
			u["client_port"] = tc.port
		}
		callID := "call-addr-" + string(rune('a'+i))
		xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{
			"sessid": sessid, "sdp": goodSDP, "xrtc_user": u,
			"dialogParams": map[string]any{"callID": callID, "destination_number": "9196"},
		}))
		spec := e.host.NextChannel(t).Inbound
		got, ok := spec.Vars["verto_client_address"]
		switch {
		case tc.noVariable && ok:
			t.Errorf("%v: verto_client_address %q set", tc.addr, got)
		case !tc.noVariable && got != tc.want:
			t.Errorf("%v %v: verto_client_address %q, want %q", tc.addr, tc.port, got, tc.want)
		}
		if spec.Caller.NetworkAddr != tc.ip {
			t.Errorf("%v: network_addr %q, want %q", tc.addr, spec.Caller.NetworkAddr, tc.ip)
		}
	}
}

// xrtc status counts the calls from the endpoint's own state: it does not
// read each channel's media counter (a cgo call and a session lookup per
// call on FreeSWITCH).
func TestStatusDoesNotReadMedia(t *testing.T) {
	e := newEnv(t)
	var chs []*xrtctest.Channel
	for _, id := range []string{"s1", "s2", "s3"} {
		chs = append(chs, e.answered(id))
	}
	before := int64(0)
	for _, ch := range chs {
		before += ch.StatsReads()
	}
	st := e.ep.API("status")
	after := int64(0)
	for _, ch := range chs {
		after += ch.StatsReads()
	}
	if after != before {
		t.Errorf("xrtc status read the media counters %d times", after-before)
	}
	mustContain(t, st, "calls", "3 (inbound 3, outbound 0, held 0, detached 0; 3 since start)", "0 bad transitions")
}
