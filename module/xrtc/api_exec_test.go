package xrtc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// apiUser is a logged-in user with the directory's jsapi / fsapi lists.
func apiUser(jsapi, fsapi []string) map[string]any {
	u := user()
	u["client_address"], u["client_port"] = "192.0.2.7", 5555
	u["user_variables"] = map[string]any{"browser": "test"}
	if jsapi != nil {
		u["allowed_jsapi"] = jsapi
	}
	if fsapi != nil {
		u["allowed_fsapi"] = fsapi
	}
	return u
}

// fsapi and jsapi run on the node with mod_verto's permission checks
// (jsonrpc-allowed-fsapi / -jsapi, as XCtrl asserts them), and answer what
// mod_verto answers.
func TestAPICommands(t *testing.T) {
	e := newEnv(t)
	e.host.SetAPI("status", "UP 0 years")
	e.host.SetAPI("bgapi", "+OK Job-UUID: 1")
	e.host.SetJSONAPI("status", json.RawMessage(`{"systemStatus":"ready"}`))
	send := func(method string, u map[string]any, params map[string]any) *verto.Message {
		params["sessid"], params["xrtc_user"] = sessid, u
		return e.ctrl.Send(t, e.node, method, params)
	}
	limited := apiUser([]string{"status", "fsapi"}, []string{"status", "bgapi"})

	for _, tc := range []struct {
		u       map[string]any
		params  map[string]any
		message string // "" = Permission Denied
	}{
		{limited, map[string]any{"cmd": "status"}, "UP 0 years"},
		{limited, map[string]any{"cmd": "bgapi", "arg": "status"}, "+OK Job-UUID: 1"},
		{limited, map[string]any{"cmd": "bgapi", "arg": "originate user/1000 &park"}, ""},
		{limited, map[string]any{"cmd": "show", "arg": "channels"}, ""},
		{apiUser(nil, []string{}), map[string]any{"cmd": "status"}, ""},      // unset: nothing
		{apiUser(nil, nil), map[string]any{"cmd": "nosuch"}, "INVALID CALL"}, // __ANY__, but no such command
		{apiUser(nil, nil), map[string]any{"cmd": 7}, "INVALID CALL"},        // not a string: no command
		{apiUser(nil, nil), map[string]any{"arg": "status"}, "INVALID CALL"},
	} {
		rep := send(verto.MethodFSAPI, tc.u, tc.params)
		if tc.message == "" {
			if xe := xrtctest.ErrorOf(t, rep); xe.Code != verto.CodeInvalidParams || xe.Message != verto.MsgPermission {
				t.Errorf("fsapi %v: %+v", tc.params, xe)
			}
			continue
		}
		if r := xrtctest.Result(t, rep); r["message"] != tc.message || r["node_uuid"] != nodeUUID {
			t.Errorf("fsapi %v: %v", tc.params, r)
		}
	}
	if ran := e.host.Ran(); len(ran) != 3 || ran[0] != "status " || ran[1] != "bgapi status" || ran[2] != "nosuch " {
		t.Errorf("ran %q", ran)
	}

	// jsapi: the JSON API's response, with the socket's data added to the
	// request as mod_verto adds it.
	rep := send(verto.MethodJSAPI, limited, map[string]any{"command": "status", "data": map[string]any{}})
	if r := xrtctest.Result(t, rep); r["systemStatus"] != "ready" {
		t.Fatalf("jsapi status: %v", r)
	}
	ran := e.host.Ran()
	var req map[string]any
	if err := json.Unmarshal([]byte(ran[len(ran)-1]), &req); err != nil {
		t.Fatal(err)
	}
	sd, _ := req["sockData"].(map[string]any)
	for k, v := range map[string]any{"verto_id": "1000", "verto_domain": "xswitch.cn", "verto_user": "1000@xswitch.cn",
		"presence_id": "1000@xswitch.cn", "verto_client_address": "192.0.2.7:5555", "chat_proto": "xrtc", "verto_host": "xswitch.cn",
		"user_context": "users", "browser": "test", "caller-id-name": "Alice", "caller-id-number": "1000"} {
		if sd[k] != v {
			t.Errorf("sockData %s = %v, want %v", k, sd[k], v)
		}
	}
	for _, k := range []string{"xrtc_user", "ctrl_uuid", "node_uuid"} {
		if _, ok := req[k]; ok {
			t.Errorf("the JSON API got the bus's %s: %v", k, req)
		}
	}
	for _, tc := range []struct {
		u      map[string]any
		params map[string]any
	}{
		{limited, map[string]any{"command": "mediaStats", "data": map[string]any{}}},                         // not listed
		{limited, map[string]any{"command": "fsapi", "data": map[string]any{"cmd": "show", "arg": "calls"}}}, // fsapi list
		{apiUser(nil, nil), map[string]any{"command": "nosuch", "data": map[string]any{}}},                   // no such JSON API
		{nil, map[string]any{"command": "status", "data": map[string]any{}}},                                 // nobody logged in
	} {
		params := tc.params
		params["sessid"] = sessid
		if tc.u != nil {
			params["xrtc_user"] = tc.u
		}
		if xe := xrtctest.ErrorOf(t, e.ctrl.Send(t, e.node, verto.MethodJSAPI, params)); xe.Message != verto.MsgPermission {
			t.Errorf("jsapi %v: %+v", tc.params, xe)
		}
	}
	if n := len(e.host.Ran()); n != len(ran)+1 { // only the non-existent command reached the switch
		t.Errorf("the switch ran %d more", n-len(ran))
	}
}

// A switch that cannot run commands answers jsapi and fsapi as an unknown
// method.
func TestAPICommandsUnsupported(t *testing.T) {
	e := newEnv(t, func(o *xrtc.Options) { o.Host = struct{ xrtc.Host }{o.Host} })
	for _, m := range []string{verto.MethodFSAPI, verto.MethodJSAPI} {
		rep := e.ctrl.Send(t, e.node, m, map[string]any{"sessid": sessid, "xrtc_user": apiUser(nil, nil), "cmd": "status"})
		if xe := xrtctest.ErrorOf(t, rep); xe.Code != verto.CodeMethodNotFound || !strings.Contains(xe.Message, "Invalid Method") {
			t.Errorf("%s: %+v", m, xe)
		}
	}
}
