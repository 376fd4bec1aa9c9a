package xrtc_test

import (
	"encoding/json"
	"slices"
	"testing"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// callstate is a CHANNEL_CALLSTATE event as FreeSWITCH serialises it.
func callstate(presenceID, state string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"Event-Name": "CHANNEL_CALLSTATE", "Channel-Call-State": state, "Original-Channel-Call-State": "DOWN",
		"Channel-State": "CS_EXECUTE", "Caller-Username": "1000", "Caller-Caller-ID-Name": "Alice",
		"Caller-Caller-ID-Number": "1000", "Caller-Callee-ID-Name": "Bob", "Caller-Callee-ID-Number": "1001",
		"Unique-ID": "uuid-1", "Presence-Call-Direction": "outbound", "Channel-Presence-ID": presenceID,
		"Channel-Presence-Data": "pd", "PD-Extra": "x", "Variable_other": "not copied", "Event-Array": []string{"a", "b"},
	})
	return b
}

// Presence as mod_verto's enable-presence: a channel's call state reaches
// the sockets that subscribed its presence channel or the whole family,
// with mod_verto's fields; a new subscription asks the switch for the
// current state; nothing when the setting is off.
func TestPresence(t *testing.T) {
	var next xrtc.Config
	e := newEnv(t, func(o *xrtc.Options) { o.Config.Settings.EnablePresence = true }, reloadable(&next))
	other := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	if e.host.Wants() != (xrtc.EventWants{}) {
		t.Fatalf("wants before any subscription: %+v", e.host.Wants())
	}
	r := subscribe(t, e.ctrl, e.node, sessid, "presence.1000@xswitch.cn")
	if r["subscribedChannels"] == nil {
		t.Fatalf("subscribe %v", r)
	}
	e.host.WaitWants(t, xrtc.EventWants{Presence: true})
	subscribe(t, other, e.node, "sess-2", "presence")
	if got := e.host.Probes(); !slices.Equal(got, []string{"presence.1000@xswitch.cn", "presence"}) {
		t.Errorf("probes %v", got)
	}

	e.ep.SwitchEvent("CHANNEL_CALLSTATE", "", callstate("1000@xswitch.cn", "RINGING"))
	want := map[string]any{"channelCallState": "RINGING", "originalChannelCallState": "DOWN", "channelState": "CS_EXECUTE",
		"callerUserName": "1000", "callerIDName": "Alice", "callerIDNumber": "1000", "calleeIDName": "Bob", "calleeIDNumber": "1001",
		"channelUUID": "uuid-1", "presenceCallDirection": "outbound", "channelPresenceID": "1000@xswitch.cn",
		"channelPresenceData": "pd", "PD-Extra": "x"}
	for _, tc := range []struct {
		c           *xrtctest.Ctrl
		sess, chan_ string
	}{{e.ctrl, sessid, "presence.1000@xswitch.cn"}, {other, "sess-2", "presence"}} {
		p := tc.c.Expect(t, verto.MethodEvent)
		if p["eventChannel"] != "presence.1000@xswitch.cn" || p["subscribedChannel"] != tc.chan_ || p["sessid"] != tc.sess || p["eventSerno"] != float64(0) {
			t.Fatalf("event to %s: %v", tc.c.UUID, p)
		}
		data, _ := p["data"].(map[string]any)
		if len(data) != len(want) {
			t.Errorf("data %v", data)
		}
		for k, v := range want {
			if data[k] != v {
				t.Errorf("data %s = %v, want %v", k, data[k], v)
			}
		}
	}
	// Another presence id: only the family subscriber hears it; a channel
	// without presence id is nobody's; other events are not presence.
	e.ep.SwitchEvent("CHANNEL_CALLSTATE", "", callstate("1001@xswitch.cn", "ACTIVE"))
	if p := other.Expect(t, verto.MethodEvent); p["eventChannel"] != "presence.1001@xswitch.cn" {
		t.Fatalf("event %v", p)
	}
	e.ep.SwitchEvent("CHANNEL_CALLSTATE", "", callstate("", "ACTIVE"))
	e.ep.SwitchEvent("CHANNEL_ANSWER", "", callstate("1000@xswitch.cn", "ACTIVE"))
	e.ep.SwitchEvent("CHANNEL_CALLSTATE", "", json.RawMessage(`not json`))
	e.ctrl.ExpectNothing(t)
	other.ExpectNothing(t)

	// Off after a reload: nothing, and the switch is told.
	reloadWith(t, e, &next, func(c *xrtc.Config) { c.Settings.EnablePresence = false })
	e.host.WaitWants(t, xrtc.EventWants{})
	e.ep.SwitchEvent("CHANNEL_CALLSTATE", "", callstate("1000@xswitch.cn", "HANGUP"))
	e.ctrl.ExpectNothing(t)
	other.ExpectNothing(t)
}

// reloadable lets a test reload the endpoint with the configuration next
// points to (set before Reload).
func reloadable(next *xrtc.Config) func(*xrtc.Options) {
	return func(o *xrtc.Options) {
		o.Reload = func() (xrtc.Config, error) { return *next, nil }
	}
}

// reloadWith reloads e with its configuration changed.
func reloadWith(t *testing.T, e *env, next *xrtc.Config, change func(*xrtc.Config)) {
	t.Helper()
	*next = testConfig()
	next.Settings.NATSURLs = []string{e.url}
	change(next)
	if err := e.ep.Reload(); err != nil {
		t.Fatal(err)
	}
}

// FreeSWITCH events as mod_verto's enable-fs-events: every event on
// FSevent.<name> (custom ones FSevent.custom::<subclass>), to the sockets
// that subscribed it or the family; with the setting off, a user whose
// directory lists its event channels may not subscribe them.
func TestFSEvents(t *testing.T) {
	var next xrtc.Config
	e := newEnv(t, func(o *xrtc.Options) { o.Config.Settings.EnableFSEvents = true }, reloadable(&next))
	subscribe(t, e.ctrl, e.node, sessid, "FSevent.custom::sofia::register")
	e.host.WaitWants(t, xrtc.EventWants{FSEvents: true})
	ev := json.RawMessage(`{"Event-Name":"CUSTOM","Event-Subclass":"sofia::register","_body":"b"}`)
	e.ep.SwitchEvent("CUSTOM", "SOFIA::register", ev)
	p := e.ctrl.Expect(t, verto.MethodEvent)
	if p["eventChannel"] != "FSevent.custom::sofia::register" || p["sessid"] != sessid {
		t.Fatalf("event %v", p)
	}
	if d, _ := p["data"].(map[string]any); d["_body"] != "b" || d["Event-Subclass"] != "sofia::register" {
		t.Fatalf("data %v", p["data"])
	}
	e.ep.SwitchEvent("HEARTBEAT", "", json.RawMessage(`{"Event-Name":"HEARTBEAT"}`))
	e.ctrl.ExpectNothing(t)

	// The family hears every event.
	subscribe(t, e.ctrl, e.node, "sess-2", "FSevent")
	e.ep.SwitchEvent("HEARTBEAT", "", json.RawMessage(`{"Event-Name":"HEARTBEAT"}`))
	if p := e.ctrl.Expect(t, verto.MethodEvent); p["eventChannel"] != "FSevent.heartbeat" || p["sessid"] != "sess-2" {
		t.Fatalf("event %v", p)
	}
	// Unsubscribed: the switch may stop sending.
	for _, s := range []string{sessid, "sess-2"} {
		ch := "FSevent"
		if s == sessid {
			ch = "FSevent.custom::sofia::register"
		}
		xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodUnsubscribe, map[string]any{"sessid": s, "eventChannel": ch}))
	}
	e.host.WaitWants(t, xrtc.EventWants{})

	// enable-fs-events off: refused to a user with a channel list, allowed
	// (and silent) without one, as mod_verto's event_channel_check_auth.
	reloadWith(t, e, &next, func(c *xrtc.Config) {})
	u := user()
	u["allowed_event_channels"] = []string{"FSevent", "presence"}
	rep := e.ctrl.Send(t, e.node, verto.MethodSubscribe, map[string]any{"sessid": "sess-3", "eventChannel": []string{"FSevent.heartbeat"}, "xrtc_user": u})
	if xe := xrtctest.ErrorOf(t, rep); xe.Code != verto.CodeInvalidParams {
		t.Fatalf("subscribe while disabled: %+v", xe)
	}
	if r := subscribe(t, e.ctrl, e.node, "sess-4", "FSevent.heartbeat"); r["subscribedChannels"] == nil {
		t.Fatalf("subscribe without a list: %v", r)
	}
	e.ep.SwitchEvent("HEARTBEAT", "", json.RawMessage(`{"Event-Name":"HEARTBEAT"}`))
	e.ctrl.ExpectNothing(t)
	if e.host.Wants() != (xrtc.EventWants{}) {
		t.Errorf("wants %+v", e.host.Wants())
	}
}
