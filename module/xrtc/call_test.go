package xrtc_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

func TestTransitions(t *testing.T) {
	S := func(s ...xrtc.State) []xrtc.State { return s }
	all := S(xrtc.StateNew, xrtc.StateTrying, xrtc.StateRinging, xrtc.StateEarly, xrtc.StateActive, xrtc.StateHeld, xrtc.StateDetached, xrtc.StateHangup)
	allowed := map[xrtc.State][]xrtc.State{
		xrtc.StateNew:      S(xrtc.StateTrying, xrtc.StateHangup),
		xrtc.StateTrying:   S(xrtc.StateRinging, xrtc.StateEarly, xrtc.StateActive, xrtc.StateHangup),
		xrtc.StateRinging:  S(xrtc.StateEarly, xrtc.StateActive, xrtc.StateHangup),
		xrtc.StateEarly:    S(xrtc.StateActive, xrtc.StateHangup),
		xrtc.StateActive:   S(xrtc.StateHeld, xrtc.StateDetached, xrtc.StateHangup),
		xrtc.StateHeld:     S(xrtc.StateActive, xrtc.StateDetached, xrtc.StateHangup),
		xrtc.StateDetached: S(xrtc.StateActive, xrtc.StateHeld, xrtc.StateHangup),
		xrtc.StateHangup:   nil,
	}
	for _, from := range all {
		for _, to := range all {
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			if got := xrtc.CanTransition(from, to); got != want {
				t.Errorf("%s -> %s: got %v, want %v", from, to, got, want)
			}
		}
	}
	for _, s := range all {
		if s.String() == "" || s.String()[0] == 's' {
			t.Errorf("state %d has no name", s)
		}
	}
}

func TestInviteMediaAnswerClientBye(t *testing.T) {
	e := newEnv(t)
	ch := e.invite("call-1", "9196")
	spec := ch.Inbound
	if spec.UUID != "call-1" || spec.Name != "xrtc/9196" || spec.RemoteSDP != goodSDP {
		t.Fatalf("spec %+v", spec)
	}
	cp := spec.Caller
	if cp.DestinationNumber != "9196" || cp.CallerIDName != "Alice" || cp.CallerIDNumber != "1000" ||
		cp.Context != "users" || cp.Dialplan != "XML" || cp.Username != "1000" {
		t.Errorf("caller profile %+v", cp)
	}
	for k, want := range map[string]string{
		"jsock_uuid_str": sessid, "event_channel_cookie": sessid, "verto_user": "1000@xswitch.cn",
		"presence_id": "1000@xswitch.cn", "verto_host": "xswitch.cn", "chat_proto": "xrtc", // the endpoint's chat interface
		"verto_profile_name": "default", "xrtc_ctrl_uuid": ctrlUUID, "xrtc_node_uuid": nodeUUID,
		"user_context": "users",
	} {
		if got := spec.Vars[k]; got != want {
			t.Errorf("var %s = %q, want %q", k, got, want)
		}
	}

	e.ep.ChannelProgress("call-1", "v=0 early")
	p := e.ctrl.Expect(t, verto.MethodMedia)
	if p["callID"] != "call-1" || p["sdp"] != "v=0 early" || p["sessid"] != sessid || p["node_uuid"] != nodeUUID {
		t.Fatalf("verto.media %v", p)
	}
	e.ep.ChannelAnswer("call-1", "v=0 early")
	p = e.ctrl.Expect(t, verto.MethodAnswer)
	if _, has := p["sdp"]; has {
		t.Errorf("verto.answer repeats the SDP after verto.media: %v", p)
	}
	if ci, _ := e.ep.Call("call-1"); ci.State != "active" {
		t.Errorf("state %s", ci.State)
	}

	r := xrtctest.Result(t, e.call(verto.MethodBye, "call-1", nil))
	if r["message"] != "CALL ENDED" || r["cause"] != "NORMAL_CLEARING" || r["causeCode"] != 16.0 || r["callID"] != "call-1" {
		t.Fatalf("bye result %v", r)
	}
	ch.Expect(t, "hangup:NORMAL_CLEARING")
	// The switch reports the hang-up it was asked for: nothing goes back.
	e.ep.ChannelHangup("call-1", verto.CauseNormalClearing)
	if msg := errMsg(t, e.call(verto.MethodBye, "call-1", nil)); msg != verto.MsgCallNotExist {
		t.Errorf("second bye: %s", msg)
	}
	e.ctrl.ExpectNothing(t)
	if len(e.ep.Calls()) != 0 {
		t.Errorf("calls left: %v", e.ep.Calls())
	}
}

func TestSwitchHangupTellsClient(t *testing.T) {
	e := newEnv(t)
	e.invite("call-2", "1234")
	e.ep.ChannelAnswer("call-2", "v=0 local")
	if p := e.ctrl.Expect(t, verto.MethodAnswer); p["sdp"] != "v=0 local" {
		t.Errorf("answer without sdp: %v", p)
	}
	e.ep.ChannelHangup("call-2", verto.CauseUserBusy)
	p := e.ctrl.Expect(t, verto.MethodBye)
	if p["callID"] != "call-2" || p["cause"] != "USER_BUSY" || p["causeCode"] != 17.0 {
		t.Fatalf("bye %v", p)
	}
	// Unrouted: the switch hangs up before answering.
	e.invite("call-3", "0000")
	e.ep.ChannelHangup("call-3", verto.CauseNoRouteDestination)
	if p := e.ctrl.Expect(t, verto.MethodBye); p["cause"] != "NO_ROUTE_DESTINATION" || p["causeCode"] != 3.0 {
		t.Fatalf("bye %v", p)
	}
}

func TestClientByeCauses(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []struct {
		extra map[string]any
		cause string
		code  float64
	}{
		{map[string]any{"cause": "USER_BUSY"}, "USER_BUSY", 17},
		{map[string]any{"causeCode": 21}, "CALL_REJECTED", 21},
		{map[string]any{"causeCode": "31"}, "NORMAL_UNSPECIFIED", 31},
		{map[string]any{"cause": "NOT_A_CAUSE"}, "NORMAL_CLEARING", 16},
	} {
		id := "bye-" + string(rune('a'+i))
		ch := e.answered(id)
		r := xrtctest.Result(t, e.call(verto.MethodBye, id, tc.extra))
		if r["cause"] != tc.cause || r["causeCode"] != tc.code {
			t.Errorf("%v: result %v", tc.extra, r)
		}
		ch.Expect(t, "hangup:"+tc.cause)
	}
}

func TestInfoDTMFAndChat(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-i")
	r := xrtctest.Result(t, e.call(verto.MethodInfo, "call-i", map[string]any{"dtmf": "12#"}))
	if r["message"] != "SENT" {
		t.Fatalf("info result %v", r)
	}
	ch.Expect(t, "dtmf:12#", "vars")
	// FreeSWITCH logs a line for each digit: more than MaxDTMFLen are
	// refused, and none queued.
	longest := strings.Repeat("1", verto.MaxDTMFLen)
	xrtctest.Result(t, e.call(verto.MethodInfo, "call-i", map[string]any{"dtmf": longest}))
	ch.Expect(t, "dtmf:"+longest, "vars")
	if err := xrtctest.ErrorOf(t, e.call(verto.MethodInfo, "call-i", map[string]any{"dtmf": longest + "1"})); err.Code != verto.CodeInvalidParams {
		t.Errorf("a DTMF string too long: %+v", err)
	}
	// Refused whole: its chat is not sent either (the chat below is the
	// first the host sees).
	if err := xrtctest.ErrorOf(t, e.call(verto.MethodInfo, "call-i", map[string]any{"dtmf": longest + "1",
		"msg": map[string]any{"to": "1001@xswitch.cn", "body": "refused"}})); err.Code != verto.CodeInvalidParams {
		t.Errorf("a DTMF string too long, with a chat: %+v", err)
	}
	ch.NoEvent(t, "vars")
	r = xrtctest.Result(t, e.call(verto.MethodInfo, "call-i", map[string]any{"msg": map[string]any{"to": "1001@xswitch.cn", "body": "hi", "inDialog": true}}))
	if r["message"] != "SENT" {
		t.Fatalf("chat result %v", r)
	}
	chat := e.host.NextChat(t)
	if chat.From != "1000@xswitch.cn" || chat.To != "1001@xswitch.cn" || chat.Body != "hi" || chat.CallID != "call-i" {
		t.Errorf("chat %+v", chat)
	}
	if msg := errMsg(t, e.call(verto.MethodInfo, "call-i", map[string]any{"msg": map[string]any{"body": "no to"}})); msg != "INVALID MESSAGE to and body params required" {
		t.Errorf("bad chat: %s", msg)
	}
	// Chat without a call.
	rep := e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(), "msg": map[string]any{"to": "1002@xswitch.cn", "body": "yo"}})
	if r := xrtctest.Result(t, rep); r["message"] != "SENT" {
		t.Errorf("chat result %v", r)
	}
	if c := e.host.NextChat(t); c.To != "1002@xswitch.cn" || c.CallID != "" {
		t.Errorf("chat %+v", c)
	}
	// Media settings become channel variables.
	xrtctest.Result(t, e.call(verto.MethodInfo, "call-i", map[string]any{"type": "mediaSettings",
		"dialogParams": map[string]any{"callID": "call-i", "audio": map[string]any{"echoCancellation": false}, "userVariables": map[string]any{"k": "v"}}}))
	ch.Expect(t, "vars")
	if ch.Var("verto_echoCancellation") != "false" || ch.Var("verto_dvar_k") != "v" {
		t.Errorf("vars echo=%q dvar=%q", ch.Var("verto_echoCancellation"), ch.Var("verto_dvar_k"))
	}
}

func TestModify(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-m")
	modify := func(action string, extra map[string]any) map[string]any {
		t.Helper()
		x := map[string]any{"action": action}
		for k, v := range extra {
			x[k] = v
		}
		return xrtctest.Result(t, e.call(verto.MethodModify, "call-m", x))
	}
	if r := modify("hold", nil); r["holdState"] != "held" || r["action"] != "hold" {
		t.Fatalf("hold %v", r)
	}
	ch.Expect(t, "hold:true")
	if ci, _ := e.ep.Call("call-m"); ci.State != "held" {
		t.Errorf("state %s", ci.State)
	}
	if r := modify("hold", nil); r["holdState"] != "held" {
		t.Errorf("hold again %v", r)
	}
	ch.Expect(t, "hold:true") // as mod_verto: asked again, harmless
	if r := modify("unhold", nil); r["holdState"] != "active" {
		t.Errorf("unhold %v", r)
	}
	ch.Expect(t, "hold:false")
	if r := modify("toggleHold", nil); r["holdState"] != "held" {
		t.Errorf("toggle %v", r)
	}
	ch.Expect(t, "hold:true")
	if r := modify("toggleHold", nil); r["holdState"] != "active" {
		t.Errorf("toggle back %v", r)
	}
	ch.Expect(t, "hold:false")

	if msg := errMsg(t, e.call(verto.MethodModify, "call-m", map[string]any{"action": "transfer", "destination": "1000"})); msg != "call is not bridged" {
		t.Errorf("transfer unbridged: %s", msg)
	}
	if msg := errMsg(t, e.call(verto.MethodModify, "call-m", map[string]any{"action": "transfer"})); msg != "destination missing" {
		t.Errorf("transfer without destination: %s", msg)
	}
	ch.SetBridged(true)
	if r := modify("transfer", map[string]any{"destination": "1000"}); r["message"] != "CALL TRANSFERRED" {
		t.Errorf("transfer %v", r)
	}
	ch.Expect(t, "transfer:1000")
	// A destination out of an invite's bounds, or one FreeSWITCH would
	// expand (it expands a variable's value again, API calls included: the
	// stock dialplan's ${destination_number} ran one): refused before the
	// switch sees it (XCtrl refuses them too; another controller may not).
	for _, dest := range []string{"${system(touch /tmp/x)}", "1${uuid}", "10\r\n00", strings.Repeat("1", verto.MaxDestLen+1)} {
		if err := xrtctest.ErrorOf(t, e.call(verto.MethodModify, "call-m", map[string]any{"action": "transfer", "destination": dest})); err.Code != verto.CodeInvalidParams || !strings.Contains(err.Message, "destination") {
			t.Errorf("transfer to %.40q: %+v", dest, err)
		}
	}
	if r := modify("transfer", map[string]any{"destination": "1001"}); r["message"] != "CALL TRANSFERRED" {
		t.Errorf("transfer %v", r)
	}
	ch.Expect(t, "transfer:1001") // the refused ones did nothing

	e.answered("call-m2")
	if r := modify("replace", map[string]any{"replaceCallID": "call-m2"}); r["callID"] != "call-m" || r["action"] != "replace" || r["message"] != nil {
		t.Errorf("replace %v", r) // mod_verto: no message on success
	}
	ch.Expect(t, "replace:call-m2")
	if msg := errMsg(t, e.call(verto.MethodModify, "call-m", map[string]any{"action": "replace", "replaceCallID": "nope"})); msg != "invalid transfer leg" {
		t.Errorf("replace unknown: %s", msg)
	}
	if msg := errMsg(t, e.call(verto.MethodModify, "call-m", nil)); msg != "action missing" {
		t.Errorf("no action: %s", msg)
	}
	if r := modify("updateMedia", map[string]any{"sdp": goodSDP}); r["sdp"] == nil {
		t.Errorf("updateMedia %v", r)
	}
}

func TestAPI(t *testing.T) {
	reloads := []xrtc.Config{}
	var next func() (xrtc.Config, error)
	e := newEnv(t, func(o *xrtc.Options) {
		o.Reload = func() (xrtc.Config, error) { return next() }
	})
	e.answered("call-api")
	status := e.ep.API("status")
	mustContain(t, status, "node_uuid", nodeUUID, "CONNECTED", "cn.xswitch.node.node-1", "queue xnode",
		"cn.xswitch.status.node", "default", "5000ms", "50000ms", "cn.xswitch.ctrl.custom", "calls", "1 (inbound 1")
	mustContain(t, e.ep.API("calls"), "call-api", "inbound", "active", "9196", sessid, ctrlUUID, "1 calls")
	mustContain(t, e.ep.API("debug 3"), "+OK debug 3")
	mustContain(t, e.ep.API("debug 9"), "-ERR")
	mustContain(t, e.ep.API("frobnicate"), "-ERR", "usage")

	next = func() (xrtc.Config, error) { return xrtc.Config{}, errBadConfig }
	mustContain(t, e.ep.API("reload"), "-ERR configuration refused", "xcc-rtc.conf.xml:3: profile")
	mustContain(t, e.ep.API("status"), "cn.xswitch.ctrl.custom")

	cfg := testConfig()
	cfg.Profiles["new"] = &xrtc.Profile{Name: "new"}
	next = func() (xrtc.Config, error) { reloads = append(reloads, cfg); return cfg, nil }
	mustContain(t, e.ep.API("reload"), "+OK reloaded", "new")
	if len(reloads) != 1 {
		t.Fatal("reload not called")
	}
	// The call survived the reload.
	mustContain(t, e.ep.API("calls"), "call-api", "active")
}

type configError string

func (e configError) Error() string { return string(e) }

var errBadConfig = configError(`xcc-rtc.conf.xml:3: profile "default" param "media-timeout": not a number`)

// The directory's variables win over the client's login userVariables: a
// browser cannot widen toll_allow or spoof accountcode (mod_verto applies
// the directory after the client's variables). Client variables only fill
// names the directory leaves unset.
func TestDirectoryVariablesWinOverClientVariables(t *testing.T) {
	e := newEnv(t)
	u := user()
	u["variables"] = map[string]string{"user_context": "users", "toll_allow": "local", "accountcode": "1000"}
	u["user_variables"] = map[string]any{"toll_allow": "domestic,international,local", "accountcode": "9999",
		"user_context": "public", "verto_user": "admin@evil", "presence_id": "admin@evil", "x_client_note": "hi", "x_bool": true}
	rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{
		"sessid": sessid, "sdp": goodSDP, "xrtc_user": u,
		"dialogParams": map[string]any{"callID": "call-vars", "destination_number": "9196"},
	})
	xrtctest.Result(t, rep)
	spec := e.host.NextChannel(t).Inbound
	for k, want := range map[string]string{
		"toll_allow": "local", "accountcode": "1000", "user_context": "users",
		"verto_user": "1000@xswitch.cn", "presence_id": "1000@xswitch.cn",
		"x_client_note": "hi", "x_bool": "true",
	} {
		if got := spec.Vars[k]; got != want {
			t.Errorf("var %s = %q, want %q", k, got, want)
		}
	}
	if spec.Caller.Context != "users" {
		t.Errorf("context %q, want the directory's", spec.Caller.Context)
	}
}

// A browser's userVariables cannot make FreeSWITCH run anything
// (execute_on_answer=system ..., api_hangup_hook), spoof the caller or the
// bill where the directory is silent, or smuggle ${api(...)} expansions;
// harmless names still reach the channel.
func TestClientVariablesCannotRunOrSpoof(t *testing.T) {
	e := newEnv(t)
	u := user()
	u["user_variables"] = map[string]any{
		"execute_on_answer": "system rm -rf /", "Execute_On_Answer_1": "system id", "api_on_answer": "system id",
		"api_hangup_hook": "system id", "session_in_hangup_hook": "true", "exec_after_bridge_app": "system",
		"bridge_pre_execute_bleg_app": "system", "effective_caller_id_number": "911", "origination_caller_id_name": "Bank",
		"sip_h_X-Evil": "1", "x_ok": "hello", "x_expand": "${system(id)}", "x_expand2": `$\{system(id)}`, "x_${uuid}": "1",
		"accountcode": "free",
	}
	rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{
		"sessid": sessid, "sdp": goodSDP, "xrtc_user": u,
		"dialogParams": map[string]any{"callID": "call-hooks", "destination_number": "9196",
			"userVariables": map[string]any{"note": "fine", "bad": "${system(id)}", "bad2": `$\{uuid}`, "bad${x}": "1"}},
	})
	xrtctest.Result(t, rep)
	vars := e.host.NextChannel(t).Inbound.Vars
	for k := range vars {
		lk := strings.ToLower(k)
		for _, bad := range []string{"execute_on", "api_on", "hangup_hook", "exec_after", "pre_execute", "effective_caller", "origination_caller", "sip_h_", "x_expand", "${", "accountcode", "verto_dvar_bad"} {
			if strings.Contains(lk, bad) {
				t.Errorf("client variable %s=%q reached the channel", k, vars[k])
			}
		}
	}
	if vars["x_ok"] != "hello" || vars["verto_dvar_note"] != "fine" {
		t.Errorf("harmless client variables lost: %v", vars)
	}
}

// TestUserVariablesPerCall: each of a call's dialogParams.userVariables
// becomes a channel variable (verto_dvar_*), which FreeSWITCH sets in time
// that grows with those the channel has: a call holds at most
// verto.MaxUserVariables of them over its invite and every verto.info, a
// name set again counting once; past it a message is refused and sets
// nothing. An invite whose login brings more is refused too.
func TestUserVariablesPerCall(t *testing.T) {
	e := newEnv(t)
	vars := func(prefix string, n int) map[string]any {
		m := map[string]any{}
		for i := 0; i < n; i++ {
			m[fmt.Sprint(prefix, i)] = "x"
		}
		return m
	}
	rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": "call-uv", "destination_number": "9196", "userVariables": vars("a", 60)}})
	xrtctest.Result(t, rep)
	ch := e.host.NextChannel(t)
	e.ep.ChannelAnswer("call-uv", "v=0 answer")
	e.ctrl.Expect(t, verto.MethodAnswer)
	if ch.Inbound.Vars["verto_dvar_a59"] != "x" {
		t.Fatal("the invite's userVariables are not on the channel")
	}
	info := func(m map[string]any) *verto.Message {
		return e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(), "type": "mediaSettings",
			"dialogParams": map[string]any{"callID": "call-uv", "userVariables": m}})
	}
	xrtctest.Result(t, info(vars("b", 40))) // 100 now
	if ch.Var("verto_dvar_b39") != "x" {
		t.Fatal("the info's userVariables are not on the channel")
	}
	xrtctest.Result(t, info(vars("a", 60))) // the same names again
	if err := xrtctest.ErrorOf(t, info(vars("c", 1))); err.Code != verto.CodeInvalidParams {
		t.Errorf("a 101st userVariable on the call: %+v", err)
	}
	if ch.Var("verto_dvar_c0") != "" {
		t.Error("a refused info set a variable")
	}
	for name, p := range map[string]map[string]any{
		"its own":   {"userVariables": vars("a", verto.MaxUserVariables+1)},
		"its login": {"xrtc_user": map[string]any{"login": "1000@xswitch.cn", "id": "1000", "domain": "xswitch.cn", "user_variables": vars("l", verto.MaxUserVariables+1)}},
	} {
		params := map[string]any{"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
			"dialogParams": map[string]any{"callID": "call-uv-" + strings.ReplaceAll(name, " ", "-"), "destination_number": "9196"}}
		if v, ok := p["userVariables"]; ok {
			params["dialogParams"].(map[string]any)["userVariables"] = v
		} else {
			params["xrtc_user"] = p["xrtc_user"]
		}
		if err := xrtctest.ErrorOf(t, e.ctrl.Send(t, e.node, verto.MethodInvite, params)); err.Code != verto.CodeInvalidParams {
			t.Errorf("an invite with too many userVariables of %s: %+v", name, err)
		}
	}
}

// TestUserVariablesBytesPerCall: a call's userVariables hold at most
// verto.MaxUserVariablesBytes, names and values, over its invite and every
// verto.info: under the count alone a client could set 100 values of a
// frame's size on it, message after message (25 MiB), and FreeSWITCH copies
// every channel variable into each of the channel's events. A value set
// again counts with its new size only.
func TestUserVariablesBytesPerCall(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", 6<<10)
	rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": "call-uvb", "destination_number": "9196", "userVariables": map[string]any{"a": big}}})
	xrtctest.Result(t, rep)
	ch := e.host.NextChannel(t)
	e.ep.ChannelAnswer("call-uvb", "v=0 answer")
	e.ctrl.Expect(t, verto.MethodAnswer)
	info := func(m map[string]any) *verto.Message {
		return e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(), "type": "mediaSettings",
			"dialogParams": map[string]any{"callID": "call-uvb", "userVariables": m}})
	}
	xrtctest.Result(t, info(map[string]any{"b": big})) // 12 KiB
	for i := 0; i < 5; i++ {
		xrtctest.Result(t, info(map[string]any{"a": big, "b": big})) // the same again: 12 KiB still
	}
	if err := xrtctest.ErrorOf(t, info(map[string]any{"c": big})); err.Code != verto.CodeInvalidParams || !strings.Contains(err.Message, "bytes") {
		t.Errorf("a third 6 KiB value: %+v", err)
	}
	if ch.Var("verto_dvar_c") != "" {
		t.Error("a refused info set a variable")
	}
	// A value replaced by a smaller one makes room.
	xrtctest.Result(t, info(map[string]any{"a": "small"}))
	xrtctest.Result(t, info(map[string]any{"c": big}))
	if ch.Var("verto_dvar_c") != big {
		t.Error("verto_dvar_c is not on the channel")
	}
	if err := xrtctest.ErrorOf(t, info(map[string]any{"a": big})); err.Code != verto.CodeInvalidParams {
		t.Errorf("a value growing past the bound: %+v", err)
	}
	// An invite over the bound is refused before any channel.
	if err := xrtctest.ErrorOf(t, e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP,
		"xrtc_user": user(), "dialogParams": map[string]any{"callID": "call-uvb2", "destination_number": "9196",
			"userVariables": map[string]any{"v": strings.Repeat("x", verto.MaxUserVariablesBytes)}}})); err.Code != verto.CodeInvalidParams {
		t.Errorf("an invite with 16 KiB of userVariables: %+v", err)
	}
}

// TestPartiesPerCall: the node refuses, as XCtrl does, a client's invite
// whose parties' names or numbers are out of bounds (verto.CheckCaller),
// before any channel: they become its caller profile and a SIP From header
// on the call's other legs. verto.js repeats its dialogParams in every
// message of a call, FreeSWITCH's caller ids too on a call placed to it:
// the other messages go through, and an answer's callee out of bounds is
// left off the channel.
func TestPartiesPerCall(t *testing.T) {
	e := newEnv(t)
	if err := xrtctest.ErrorOf(t, e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP,
		"xrtc_user": user(), "dialogParams": map[string]any{"callID": "call-party", "destination_number": "9196",
			"caller_id_name": "Alice\r\nX-Injected: 1"}})); err.Code != verto.CodeInvalidParams || !strings.Contains(err.Message, "caller_id_name") {
		t.Errorf("an invite with a line break in caller_id_name: %+v", err)
	}
	if _, ok := e.ep.Call("call-party"); ok {
		t.Error("the refused invite made a call")
	}
	for _, dp := range []map[string]any{{"destination_number": "${system(touch /tmp/x)}"}, {"destination_number": "9196", "caller_id_number": "1${uuid}"}} {
		dp["callID"] = "call-party"
		if err := xrtctest.ErrorOf(t, e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP,
			"xrtc_user": user(), "dialogParams": dp})); err.Code != verto.CodeInvalidParams {
			t.Errorf("an invite with a variable in %v: %+v", dp, err)
		}
	}
	rep := e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": "call-party", "destination_number": "9196", "caller_id_name": "Alice"}})
	xrtctest.Result(t, rep)
	ch := e.host.NextChannel(t)
	if ch.Inbound.Caller.CallerIDName != "Alice" {
		t.Errorf("caller_id_name %q", ch.Inbound.Caller.CallerIDName)
	}
	long := strings.Repeat("1", verto.MaxPartyLen+1)
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": "call-party", "rdnis": long, "caller_id_name": "A\nB"}}))

	// A call the switch placed to the user, answered with a callee name
	// out of bounds: answered, the name left off.
	call, fch := ringingUser(t, e)
	rep = e.ctrl.Send(t, e.node, verto.MethodAnswer, map[string]any{"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
		"callee_id_name": long, "dialogParams": map[string]any{"callID": call.UUID(), "callee_id_number": "1000", "caller_id_name": long}})
	xrtctest.Result(t, rep)
	fch.Expect(t, "remote-answer")
	fch.Expect(t, "vars")
	if fch.Var("callee_id_name") != "" || fch.Var("callee_id_number") != "1000" {
		t.Errorf("callee after the answer: %q %q", fch.Var("callee_id_name"), fch.Var("callee_id_number"))
	}
}

// TestCallQueueIsBounded: a call's client requests run one at a time, and
// FreeSWITCH takes 250 ms for a hold: a client sending holds at its message
// rate (200 a second) queued them without end on the node, in FreeSWITCH's
// memory, each to run long after XCtrl had given up on it. Past
// maxQueuedRequests waiting, a request is refused at once (-32600 Rate limit
// exceeded); what the switch itself reports (an answer, a hangup) still
// queues.
func TestCallQueueIsBounded(t *testing.T) {
	e := newEnv(t)
	ch := e.answered("call-q")
	holding, release := ch.BlockHold()
	defer release()
	params := func() []byte {
		m, _ := verto.NewRequest(verto.StringID(fmt.Sprint("q-", time.Now().UnixNano())), verto.MethodModify, map[string]any{
			"sessid": sessid, "xrtc_user": user(), "ctrl_uuid": ctrlUUID, "action": "hold", "dialogParams": map[string]any{"callID": "call-q"}})
		b, _ := m.Marshal()
		return b
	}
	type reply struct {
		m   *verto.Message
		err error
	}
	replies := make(chan reply, 1000)
	send := func() {
		go func() {
			rep, err := e.ctrl.NC.Request(e.node, params(), 10*time.Second)
			if err != nil {
				replies <- reply{err: err}
				return
			}
			m, err := verto.DecodeMessage(rep.Data, verto.Limits{MaxBytes: 1 << 20})
			replies <- reply{m, err}
		}()
	}
	send()
	<-holding // the call's queue is busy with the first
	const n = 300
	for i := 0; i < n; i++ {
		send()
	}
	// The refusals come at once, while the first hold still waits.
	refused, deadline := 0, time.After(5*time.Second)
wait:
	for refused < n-100 {
		select {
		case r := <-replies:
			if r.err != nil || r.m.Error == nil || r.m.Error.Message != verto.MsgRateLimited {
				t.Fatalf("a reply while the call's queue is full: %+v %v", r.m, r.err)
			}
			refused++
		case <-deadline:
			break wait
		}
	}
	if refused < n-100 {
		t.Fatalf("%d of %d holds refused while %d waited; want all but at most 100", refused, n, n-refused)
	}
	release()
	for i := refused; i < n+1; i++ {
		r := <-replies
		if r.err != nil {
			t.Fatalf("reply %d: %v", i, r.err)
		}
		if r.m.Error != nil && r.m.Error.Message != verto.MsgRateLimited {
			t.Errorf("reply %d: %+v", i, r.m.Error)
		}
	}
	// The call goes on: its next request is answered.
	if r := e.call(verto.MethodModify, "call-q", map[string]any{"action": "unhold"}); r.Error != nil {
		t.Fatalf("unhold after the flood: %+v", r.Error)
	}
}

// An invite's video settings become the channel variables mod_verto sets:
// conferenceCanvasID is a canvas number (mod_verto reads it with atoi and
// prints it back with %d), so a value that is not one sets nothing, instead
// of putting what the client sent, a variable reference or 200 KB of text,
// on the channel.
func TestInviteCanvasID(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []struct {
		canvas any
		want   string
	}{
		{"2", "2"}, {3, "3"}, {"0", "0"}, {-1, ""}, {"${system(id)}", ""}, {strings.Repeat("9", 1000), ""}, {"two", ""},
	} {
		callID := fmt.Sprint("canvas-", i)
		xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
			"dialogParams": map[string]any{"callID": callID, "destination_number": "3500", "conferenceCanvasID": tc.canvas}}))
		vars := e.host.NextChannel(t).Inbound.Vars
		if got := vars["video_initial_watching_canvas"]; got != tc.want || (got != "") != (vars["video_second_screen"] == "true") {
			t.Errorf("conferenceCanvasID %.20v: watching canvas %q, second screen %q; want %q", tc.canvas, got, vars["video_second_screen"], tc.want)
		}
	}
}
