package xrtc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

// A client's chat becomes the switch's MESSAGE as mod_verto makes it: the
// sender XCtrl asserts, the user's context for the chat plan, and the msg's
// from_* / to_* fields.
func TestChatFromClient(t *testing.T) {
	e := newEnv(t)
	rep := e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(),
		"msg": map[string]any{"to": "1001@xswitch.cn", "body": "hello", "from": "spoofed@evil", "from_display": "Alice A",
			"to_group": "sales", "other": "dropped", "from_empty": ""}})
	if r := xrtctest.Result(t, rep); r["message"] != "SENT" {
		t.Fatalf("result %v", r)
	}
	m := e.host.NextChat(t)
	if m.From != "1000@xswitch.cn" || m.To != "1001@xswitch.cn" || m.Body != "hello" || m.Context != "users" ||
		m.Profile != "default" || m.Sessid != sessid || m.InDialog || m.CallID != "" {
		t.Fatalf("chat %+v", m)
	}
	if len(m.Headers) != 2 || m.Headers["from_display"] != "Alice A" || m.Headers["to_group"] != "sales" {
		t.Errorf("headers %v", m.Headers)
	}

	// In a call, inDialog names the call; a user without user_context
	// has the profile's context.
	u1002 := map[string]any{"login": "1002@xswitch.cn", "id": "1002", "domain": "xswitch.cn"}
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodInvite, map[string]any{"sessid": "sess-1002", "sdp": goodSDP, "xrtc_user": u1002,
		"dialogParams": map[string]any{"callID": "call-chat", "destination_number": "9196"}}))
	e.host.NextChannel(t)
	rep = e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": "sess-1002", "xrtc_user": u1002,
		"dialogParams": map[string]any{"callID": "call-chat"}, "msg": map[string]any{"to": "1001@xswitch.cn", "body": "in call", "inDialog": true}})
	xrtctest.Result(t, rep)
	m = e.host.NextChat(t)
	if !m.InDialog || m.CallID != "call-chat" || m.Context != "default" || m.From != "1002@xswitch.cn" {
		t.Fatalf("in-dialog chat %+v", m)
	}
}

// TestChatFromClientIsBounded: a client's chat becomes the switch's MESSAGE,
// which its chat plan may send on as a SIP MESSAGE: one whose to, or one of
// its from_* and to_* headers, is over verto.MaxPartyLen bytes or holds a
// control character, or with more than verto.MaxChatHeaders headers, is
// refused and never reaches the switch (XCtrl refuses it too; another
// controller may not).
func TestChatFromClientIsBounded(t *testing.T) {
	e := newEnv(t)
	many := map[string]any{"to": "1001@xswitch.cn", "body": "b"}
	for i := range verto.MaxChatHeaders + 1 {
		many[fmt.Sprint("from_h", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		msg  map[string]any
		what string
	}{
		{"to CRLF", map[string]any{"to": "1001@xswitch.cn\r\nX-Injected: 1", "body": "b"}, "msg.to"},
		{"to long", map[string]any{"to": strings.Repeat("1", verto.MaxPartyLen) + "@xswitch.cn", "body": "b"}, "msg.to"},
		{"a header LF", map[string]any{"to": "1001@xswitch.cn", "body": "b", "from_display": "A\nB"}, "msg.from_display"},
		{"too many headers", many, "msg"},
		{"a variable in the body", map[string]any{"to": "1001@xswitch.cn", "body": "${system(id)}"}, "msg.body"},
	} {
		err := xrtctest.ErrorOf(t, e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(), "msg": tc.msg}))
		if err.Code != verto.CodeInvalidParams || !strings.Contains(err.Message, tc.what+":") {
			t.Errorf("%s: %+v, want an invalid %s", tc.name, err, tc.what)
		}
	}
	xrtctest.Result(t, e.ctrl.Send(t, e.node, verto.MethodInfo, map[string]any{"sessid": sessid, "xrtc_user": user(),
		"msg": map[string]any{"to": "1001@xswitch.cn", "body": "line one\r\nline two"}}))
	if m := e.host.NextChat(t); m.Body != "line one\r\nline two" {
		t.Errorf("the switch got %+v, want the good chat only", m)
	}
}

// A message the switch sends on the xrtc chat protocol reaches every socket
// of the user on whichever XCtrl holds it, as mod_verto's chat_send does;
// one naming an xrtc call goes to that call's socket only.
func TestChatToUser(t *testing.T) {
	e := newEnv(t)
	other := xrtctest.NewCtrl(t, e.url, "ctrl-2")
	asked := contacts(t, e, "cn.xswitch.ctrl.rtc",
		verto.Contact{Sessid: "s-a", CtrlUUID: ctrlUUID}, verto.Contact{Sessid: "s-b", CtrlUUID: "ctrl-2"})

	for i, body := range []string{"first", "second", "third"} {
		if err := e.ep.SendChatToUser(xrtc.UserChat{From: "1001@xswitch.cn", To: "1000@xswitch.cn", Body: body,
			Headers: map[string]string{"from_user": "1001", "to_host": "xswitch.cn", "subject": "not copied"}}); err != nil {
			t.Fatal(err)
		}
		if login := <-asked; login != "1000@xswitch.cn" {
			t.Fatalf("asked for %q", login)
		}
		for _, c := range []*xrtctest.Ctrl{e.ctrl, other} {
			p := c.Expect(t, verto.MethodInfo)
			msg, _ := p["msg"].(map[string]any)
			want := map[string]any{"from": "1001@xswitch.cn", "to": "1000@xswitch.cn", "body": body, "from_user": "1001", "to_host": "xswitch.cn"}
			if len(msg) != len(want) || p["node_uuid"] != nodeUUID || p["callID"] != nil {
				t.Fatalf("message %d to %s: %v", i, c.UUID, p)
			}
			for k, v := range want {
				if msg[k] != v {
					t.Fatalf("message %d to %s: %s = %v, want %v", i, c.UUID, k, msg[k], v)
				}
			}
			if wantSess := map[string]string{ctrlUUID: "s-a", "ctrl-2": "s-b"}[c.UUID]; p["sessid"] != wantSess {
				t.Fatalf("to %s: sessid %v", c.UUID, p["sessid"])
			}
		}
	}

	// A message about an xrtc call goes to its socket only, with the callID.
	e.answered("call-1")
	if err := e.ep.SendChatToUser(xrtc.UserChat{From: "1001@xswitch.cn", To: "1000@xswitch.cn", Body: "in call", CallID: "call-1"}); err != nil {
		t.Fatal(err)
	}
	p := e.ctrl.Expect(t, verto.MethodInfo)
	if p["callID"] != "call-1" || p["sessid"] != sessid {
		t.Fatalf("in-call message %v", p)
	}
	other.ExpectNothing(t)

	if err := e.ep.SendChatToUser(xrtc.UserChat{From: "a@b", To: "1000@xswitch.cn"}); !errors.Is(err, xrtc.ErrBadChat) {
		t.Errorf("no body: %v", err)
	}
	// mod_verto sends nothing to an address without a domain.
	if err := e.ep.SendChatToUser(xrtc.UserChat{From: "a@b", To: "1000", Body: "x"}); err != nil {
		t.Errorf("no domain: %v", err)
	}
	// A message in flight is in the params verbatim, whatever it holds.
	raw := `quote " and \ and <tag>`
	if err := e.ep.SendChatToUser(xrtc.UserChat{From: "a@b", To: "1000@xswitch.cn", Body: raw}); err != nil {
		t.Fatal(err)
	}
	<-asked
	p = e.ctrl.Expect(t, verto.MethodInfo)
	b, _ := json.Marshal(p["msg"])
	var msg verto.ChatMessage
	if json.Unmarshal(b, &msg) != nil || msg.Body != raw {
		t.Fatalf("body %s", b)
	}
	other.Expect(t, verto.MethodInfo)
}
