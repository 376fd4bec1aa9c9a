package xrtc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

const la = "conference-liveArray.3000@xswitch.cn"

func subscribe(t *testing.T, c *xrtctest.Ctrl, node, sess string, channels ...string) map[string]any {
	t.Helper()
	return xrtctest.Result(t, c.Send(t, node, verto.MethodSubscribe, map[string]any{"sessid": sess, "eventChannel": channels, "xrtc_user": user()}))
}

func deliver(t *testing.T, e *env, ev map[string]any) {
	t.Helper()
	b, _ := json.Marshal(ev)
	if err := e.ep.DeliverEvent("", b); err != nil {
		t.Fatal(err)
	}
}

func TestConferenceEvents(t *testing.T) {
	e := newEnv(t)
	other := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	e.answered("call-conf")

	// The switch joins the call to conference 3000: the member's socket is
	// told on its sessid channel, and gets the conference's channels.
	deliver(t, e, map[string]any{"eventChannel": sessid, "eventType": "channelPvtData", "pvtData": map[string]any{
		"callID": "call-conf", "action": verto.PvtActionJoin, "laChannel": la, "laName": "3000", "role": "participant",
		"chatChannel": "conference-chat.3000@xswitch.cn", "infoChannel": "conference-info.3000@xswitch.cn", "conferenceMemberID": "1"}})
	p := e.ctrl.Expect(t, verto.MethodEvent)
	if p["eventChannel"] != sessid || p["sessid"] != sessid || p["eventSerno"] != nil {
		t.Fatalf("pvtData event %v", p)
	}

	r := subscribe(t, e.ctrl, e.node, sessid, la, "conference-chat.3000@xswitch.cn")
	if len(r["subscribedChannels"].([]any)) != 2 {
		t.Fatalf("subscribe %v", r)
	}
	r = subscribe(t, e.ctrl, e.node, sessid, la)
	if r["alreadySubscribedChannels"] == nil {
		t.Errorf("resubscribe %v", r)
	}
	// A second socket (another XCtrl) subscribes the whole "conference-liveArray" family.
	subscribe(t, other, e.node, "sess-2", "conference-liveArray")

	// liveArray add: both get it, each with its own serno.
	for i := 0; i < 2; i++ {
		deliver(t, e, map[string]any{"eventChannel": la, "data": map[string]any{"action": "add", "name": "3000", "hashKey": "call-conf", "wireSerno": i + 1}})
		p = e.ctrl.Expect(t, verto.MethodEvent)
		if p["eventSerno"] != float64(i) || p["subscribedChannel"] != la || p["sessid"] != sessid || p["node_uuid"] != nodeUUID {
			t.Errorf("event %d to ctrl-1: %v", i, p)
		}
		p = other.Expect(t, verto.MethodEvent)
		if p["eventSerno"] != float64(i) || p["subscribedChannel"] != "conference-liveArray" || p["sessid"] != "sess-2" {
			t.Errorf("event %d to ctrl-2: %v", i, p)
		}
	}

	// bootstrap goes to the switch, stamped; the bootObj answer only to the requester.
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodBroadcast, map[string]any{"sessid": sessid, "eventChannel": la,
		"userid": "1000@xswitch.cn", "xrtc_user": user(),
		"data": map[string]any{"liveArray": map[string]any{"command": "bootstrap", "context": la, "name": "3000"}}}))
	b := e.host.NextBroadcast(t)
	var bo map[string]any
	_ = json.Unmarshal(b.Event, &bo)
	if b.Channel != la || bo["sessid"] != sessid || bo["userid"] != "1000@xswitch.cn" || bo["ctrl_uuid"] != nil || bo["xrtc_user"] != nil {
		t.Fatalf("broadcast %s %s", b.Channel, b.Event)
	}
	deliver(t, e, map[string]any{"eventChannel": la, "sessid": sessid, "data": map[string]any{"action": "bootObj", "name": "3000", "wireSerno": -1, "data": []any{}}})
	p = e.ctrl.Expect(t, verto.MethodEvent)
	if p["data"].(map[string]any)["action"] != "bootObj" || p["eventSerno"] != 2.0 {
		t.Errorf("bootObj %v", p)
	}
	other.ExpectNothing(t)

	// Chat: a local broadcast reaches subscribers directly.
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodBroadcast, map[string]any{"sessid": sessid, "eventChannel": "conference-chat.3000@xswitch.cn",
		"localBroadcast": true, "data": map[string]any{"action": "send", "message": "hello"}}))
	if p = e.ctrl.Expect(t, verto.MethodEvent); p["eventChannel"] != "conference-chat.3000@xswitch.cn" {
		t.Errorf("chat %v", p)
	}
	// Broadcast errors come inside the result (mod_verto's quirk).
	r = xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodBroadcast, map[string]any{"sessid": sessid}))
	if r["message"] != "eventChannel not specified." {
		t.Errorf("broadcast without channel %v", r)
	}

	// Unsubscribe.
	r = xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodUnsubscribe, map[string]any{"sessid": sessid, "eventChannel": la}))
	if len(r["unsubscribedChannels"].([]any)) != 1 {
		t.Errorf("unsubscribe %v", r)
	}
	m := e.ctrl.Send(t, e.node, verto.MethodUnsubscribe, map[string]any{"sessid": sessid, "eventChannel": la})
	if m.Error == nil {
		t.Errorf("unsubscribe twice: %s", m.Result)
	}
	deliver(t, e, map[string]any{"eventChannel": la, "data": map[string]any{"action": "del", "name": "3000"}})
	other.Expect(t, verto.MethodEvent)
	e.ctrl.ExpectNothing(t)

	// Events about a call (eventChannel = its UUID) go to its socket.
	deliver(t, e, map[string]any{"eventChannel": "call-conf", "data": map[string]any{"x": 1}})
	if p = e.ctrl.Expect(t, verto.MethodEvent); p["eventChannel"] != "call-conf" || p["sessid"] != sessid {
		t.Errorf("call event %v", p)
	}
	if err := e.ep.DeliverEvent("", json.RawMessage(`{"data":1}`)); err == nil {
		t.Error("event without channel accepted")
	}
	if err := e.ep.DeliverEvent("x", json.RawMessage(`nope`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestEventPermissions(t *testing.T) {
	e := newEnv(t)
	u := user()
	u["allowed_event_channels"] = []string{"presence"}
	send := func(ch string) *verto.Message {
		return e.ctrl.Send(t, e.node, verto.MethodSubscribe, map[string]any{"sessid": sessid, "eventChannel": []string{ch}, "xrtc_user": u})
	}
	if m := send("presence.1000@xswitch.cn"); m.Error != nil {
		t.Errorf("allowed channel refused: %v", m.Error)
	}
	m := send(la)
	var un []string
	if m.Error == nil || !m.Error.Field("unauthorizedChannels", &un) || len(un) != 1 {
		t.Fatalf("unauthorized channel: %s %v", m.Result, m.Error)
	}
	// Joining the conference grants its channels.
	e.answered("call-p")
	deliver(t, e, map[string]any{"eventChannel": sessid, "pvtData": map[string]any{"callID": "call-p", "action": verto.PvtActionJoin, "laChannel": la}})
	e.ctrl.Expect(t, verto.MethodEvent)
	if m := send(la); m.Error != nil {
		t.Errorf("granted channel refused: %v", m.Error)
	}
}

// TestBroadcastVariableRefused: mod_conference runs a moderator's commands
// from a conference's mod channel, and FreeSWITCH expands a variable's value
// again, API calls included: a moderator's transfer to ${system(touch F)}
// made F on the switch's host (integration moderator-expansion; in the
// stock dialplan anyone who dials 6070-moderator is one). A broadcast that
// would reach the switch with a variable reference in any of its strings is
// refused; one that stays among the sockets (localBroadcast) is not read.
func TestBroadcastVariableRefused(t *testing.T) {
	e := newEnv(t)
	const mod = "conference-mod.6070@xswitch.cn"
	send := func(local bool, data map[string]any) *verto.Message {
		return e.ctrl.Send(t, e.node, verto.MethodBroadcast, map[string]any{"sessid": sessid, "eventChannel": mod,
			"xrtc_user": user(), "localBroadcast": local, "data": data})
	}
	for _, data := range []map[string]any{
		{"command": "transfer", "id": "1", "value": []any{"${system(touch /tmp/x)}", "XML", "default"}},
		{"command": "vid-banner", "id": "1", "value": "$\\{system(touch /tmp/x)}"},
		{"command": "play", "value": map[string]any{"file": "${uuid}"}},
	} {
		if err := xrtctest.ErrorOf(t, send(false, data)); err.Code != verto.CodeInvalidParams || !strings.Contains(err.Message, "${") {
			t.Errorf("%v: %+v", data, err)
		}
	}
	xrtctest.Result(t, send(true, map[string]any{"message": "${not read}"}))
	// What XCtrl says of the user (its directory's variables, and the
	// display name it stamps, may hold one) is not read.
	u := user()
	u["variables"] = map[string]string{"user_context": "${domain_name}"}
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodBroadcast, map[string]any{"sessid": sessid, "eventChannel": mod,
		"xrtc_user": u, "fromDisplay": "${from the directory}", "data": map[string]any{"command": "vid-banner", "id": "1", "value": "Hello $ {you}"}}))
	if b := e.host.NextBroadcast(t); !strings.Contains(string(b.Event), "Hello") {
		t.Errorf("the switch got %s, want the good command only", b.Event)
	}
}
