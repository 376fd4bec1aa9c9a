package ctrl_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// callWorks places a call through x and checks that the node created it:
// XCtrl is still on the bus.
func callWorks(t *testing.T, e *ctrltest.Env, c *ctrltest.Browser, callID string) {
	t.Helper()
	id := c.Invite(callID, "9196", nil)
	r := c.Reply(id)
	if r.Error != nil || ctrltest.Param(r, "message") != "CALL CREATED" {
		t.Fatalf("call %s after hostile input: %+v %s", callID, r.Error, r.Result)
	}
}

// userOnCall starts an XCtrl with node n1 and logs user 1000 in with a
// call callID placed: the node and the user's socket.
func userOnCall(t *testing.T, callID string) (*fakenode.Node, *ctrltest.Browser) {
	t.Helper()
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1000")
	callWorks(t, e, c, callID)
	return n, c
}

// An authenticated user logging in with a sessid that escapes to more than
// NATS's 4,096-byte control line must get an error, and XCtrl must stay on
// the bus (found by trying: 1,400 dots took it off for good).
func TestOverlongSessidDoesNotTakeCtrlOffTheBus(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1"})
	for _, sessid := range []string{strings.Repeat(".", 1400), strings.Repeat("x", 5000), "a\nb"} {
		c := e.DialSessid(x, sessid)
		_, _, err := c.Client.Login(e.Ctx, "1001@"+ctrltest.Domain, ctrltest.Password, nil)
		if err == nil {
			t.Fatalf("login with a %d-byte sessid accepted", len(sessid))
		}
		if !strings.Contains(err.Error(), "sessid") {
			t.Errorf("login error does not name the sessid: %v", err)
		}
	}
	good := e.Login(x, "1000")
	callWorks(t, e, good, "after-sessid")
}

// A node's verto.invite naming a 50 KB login (a NATS peer, not a browser)
// is refused with an error, and XCtrl stays on the bus.
func TestOverlongLoginFromNATSDoesNotTakeCtrlOffTheBus(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	good := e.Login(x, "1000")
	for _, login := range []string{strings.Repeat("u", 50<<10) + "@" + ctrltest.Domain, "1000@" + strings.Repeat("d.", 2000)} {
		rep, err := n.Originate(e.Ctx, x.Config().RTCSubject, login, "hostile-"+login[:3])
		if err != nil {
			t.Fatalf("originate: %v", err)
		}
		if rep.Error == nil || rep.Error.Code == 0 {
			t.Fatalf("invite for a %d-byte login: %+v", len(login), rep)
		}
	}
	callWorks(t, e, good, "after-login")
	// And the registry still answers lookups: a call to a logged-in user rings.
	rep, err := n.Originate(e.Ctx, x.Config().RTCSubject, "1000@"+ctrltest.Domain, "to-1000")
	if err != nil || rep.Error != nil {
		t.Fatalf("call to a logged-in user: %v %+v", err, rep)
	}
	good.ExpectCall(verto.MethodInvite, "to-1000")
}

// Undecodable frames count against the rate limit like requests (found by
// trying: 1,000 garbage frames at 330/s were never limited), and a client
// that keeps flooding past twice its rate is dropped, while others go on.
func TestGarbageFloodIsRateLimited(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec = 5
		c.Limits.RateBurst = 10
	})
	c := e.Login(x, "1000")
	other := e.Login(x, "1001")
	for i := 0; i < 1000; i++ {
		if err := c.SendRaw([]byte(`{{{ garbage`)); err != nil {
			break // dropped: the flood was cut off
		}
	}
	if code := c.Closed(); code != websocket.ClosePolicyViolation {
		t.Fatalf("flooding socket closed with %d, want %d", code, websocket.ClosePolicyViolation)
	}
	alive(t, other)
}

// lineCounter is a slog handler that counts the lines at Warn and above
// whose message starts with one of prefixes.
type lineCounter struct {
	mu       sync.Mutex
	prefixes []string
	n        map[string]int
}

func (c *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *lineCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *lineCounter) WithGroup(string) slog.Handler            { return c }
func (c *lineCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.prefixes {
		if r.Level >= slog.LevelInfo && strings.HasPrefix(r.Message, p) {
			c.n[p]++
		}
	}
	return nil
}

func (c *lineCounter) count(p string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[p]
}

// TestRefusedLoginsDoNotFloodTheLog: logins a client may repeat without
// end, before any login succeeds (a bad identifier; any login while its
// address is throttled; a login the directory cannot decide), are each
// answered, but logged at most once in 10 s: else one client writes
// thousands of lines a second, and a journal that rate-limits the service
// drops the lines that matter.
func TestRefusedLoginsDoNotFloodTheLog(t *testing.T) {
	lines := &lineCounter{prefixes: []string{"login refused: bad identifier", "login throttled",
		"login not decided", "login: user lookup failed"}, n: map[string]int{}}
	e := ctrltest.New(t, ctrltest.Options{Logger: slog.New(lines)})
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // an XUI endpoint nobody answers at
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.LoginFailuresPerAddr = 2
		c.Limits.RatePerSec = 1e6
		c.Limits.RateBurst = 1e6
		c.XUIAuthURL = down.URL
	})
	c := e.Dial(x)
	const tries = 100
	for i := 0; i < tries; i++ {
		if r := c.Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": "x",
			"sessid": "bad\nsessid"}); r.Error == nil {
			t.Fatal("a sessid with a newline accepted")
		}
	}
	for i := 0; i < tries; i++ {
		r := c.Call(verto.MethodLogin, map[string]any{"login": "1001@" + ctrltest.Domain, "loginParams": map[string]any{"xui_sessid": "t"}})
		if r.Error == nil || r.Error.Message != verto.MsgDirectoryUnavailable {
			t.Fatalf("a login with XUI down: %+v", r.Error)
		}
	}
	for i := 0; i < tries; i++ {
		if r := c.Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": "wrong"}); r.Error == nil {
			t.Fatal("wrong password accepted")
		}
	}
	for _, p := range lines.prefixes {
		if n := lines.count(p); n < 1 || n > 2 {
			t.Errorf("%q logged %d times for %d refusals, want once (twice if 10 s passed)", p, n, tries)
		}
	}
}

// A verto.info whose params hold thousands of members (16,000 keys in a
// frame under 256 KiB) is refused with an error and never reaches the
// node. Found by measuring: XCtrl spent 22 ms making 29,000 such params an
// Object, so that one user at its message rate (200/s) kept four cores
// busy.
func TestParamsOfThousandsOfMembersAreRefused(t *testing.T) {
	n, c := userOnCall(t, "many-params")
	params := map[string]any{"dialogParams": map[string]any{"callID": "many-params"}, "dtmf": "1"}
	for i := 0; i < 16000; i++ {
		params[fmt.Sprintf("k%x", i)] = i
	}
	r := c.Call(verto.MethodInfo, params)
	if r.Error == nil || r.Error.Code != verto.CodeInvalidParams || r.Error.Message != verto.MsgTooManyParams {
		t.Errorf("verto.info of 16,002 params: %+v %s", r.Error, r.Result)
	}
	if got := n.Count(verto.MethodInfo); got != 0 {
		t.Errorf("the node got %d verto.info", got)
	}
	// The socket goes on, and params of as many members as a client may
	// send reach the node with what XCtrl adds to them.
	for i := verto.MaxClientParams - 3; i < 16000; i++ { // the client adds sessid
		delete(params, fmt.Sprintf("k%x", i))
	}
	if r := c.Call(verto.MethodInfo, params); r.Error != nil {
		t.Errorf("verto.info of %d params and sessid: %+v", len(params), r.Error)
	}
	if got := n.Count(verto.MethodInfo); got != 1 {
		t.Errorf("the node got %d verto.info", got)
	}
}

// checkEdgeBound sends one call request from c: allowed (ok), it is
// answered and reaches the node once; refused, it is answered -32602
// naming what, and never reaches the node.
func checkEdgeBound(t *testing.T, n *fakenode.Node, c *ctrltest.Browser, name, method string, params map[string]any, ok bool, what string) {
	t.Helper()
	before := n.Count(method)
	r := c.Call(method, params)
	reached := n.Count(method) - before
	switch {
	case ok && (r.Error != nil || reached != 1):
		t.Errorf("%s: %+v, %d reached the node", name, r.Error, reached)
	case !ok && (r.Error == nil || r.Error.Code != verto.CodeInvalidParams || !strings.Contains(r.Error.Message, what) || reached != 0):
		t.Errorf("%s: %+v %s, %d reached the node; want an invalid %s", name, r.Error, r.Result, reached, what)
	}
}

// TestUserVariablesAreBounded: each of a client's userVariables becomes a
// channel variable, and FreeSWITCH sets one in time that grows with those
// the channel has: 8,000 in a verto.info took 0.2 s of the switch, the
// fourth such 0.7 s (integration hostile-params). XCtrl refuses more than
// verto.MaxUserVariables at login and in a call message's dialogParams;
// the node bounds a call's own over all its messages.
func TestUserVariablesAreBounded(t *testing.T) {
	vars := func(n int) map[string]any {
		m := map[string]any{}
		for i := 0; i < n; i++ {
			m[fmt.Sprint("v", i)] = "x"
		}
		return m
	}
	n, c := userOnCall(t, "uv")
	for _, method := range []string{verto.MethodInfo, verto.MethodModify} {
		for _, count := range []int{verto.MaxUserVariables, verto.MaxUserVariables + 1} {
			checkEdgeBound(t, n, c, fmt.Sprintf("%s with %d userVariables", method, count), method,
				map[string]any{"action": verto.ActionHold, "dialogParams": map[string]any{"callID": "uv", "userVariables": vars(count)}},
				count <= verto.MaxUserVariables, "userVariables")
		}
	}
	before := n.Count(verto.MethodInvite)
	if r := c.Call(verto.MethodInvite, map[string]any{"sdp": "v=0\r\n",
		"dialogParams": map[string]any{"callID": "uv2", "destination_number": "9196", "userVariables": vars(verto.MaxUserVariables + 1)}}); r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
		t.Errorf("an invite with too many userVariables: %+v", r.Error)
	}
	if n.Count(verto.MethodInvite) != before {
		t.Error("an invite with too many userVariables reached the node")
	}
	// At login: the identity XCtrl asserts carries them to every call.
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	for _, count := range []int{verto.MaxUserVariables, verto.MaxUserVariables + 1} {
		r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": ctrltest.Password,
			"userVariables": vars(count)})
		if ok := count <= verto.MaxUserVariables; ok != (r.Error == nil) || !ok && r.Error.Code != verto.CodeInvalidParams {
			t.Errorf("login with %d userVariables: %+v", count, r.Error)
		}
	}
}

// TestDTMFIsBounded: FreeSWITCH logs a line for each DTMF digit a channel
// receives, and 60 KB of them in one verto.info put 45,000 lines and more
// in freeswitch.log (integration hostile-params): XCtrl refuses a dtmf
// longer than verto.MaxDTMFLen, or with control characters, and the node
// never sees it.
func TestDTMFIsBounded(t *testing.T) {
	n, c := userOnCall(t, "dtmf")
	for _, tc := range []struct {
		name, dtmf string
		ok         bool
	}{
		{"a digit", "1", true},
		{"the longest", strings.Repeat("1", verto.MaxDTMFLen), true},
		{"a byte too long", strings.Repeat("1", verto.MaxDTMFLen+1), false},
		{"60 KB", strings.Repeat("1234567890*#", 5<<10), false},
		{"LF", "1\n2", false},
	} {
		checkEdgeBound(t, n, c, tc.name, verto.MethodInfo, map[string]any{"dtmf": tc.dtmf, "dialogParams": map[string]any{"callID": "dtmf"}}, tc.ok, "dtmf")
	}
	// Without a call (to any node), too.
	if r := c.Call(verto.MethodInfo, map[string]any{"dtmf": strings.Repeat("1", verto.MaxDTMFLen+1)}); r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
		t.Errorf("a long dtmf without a call: %+v", r.Error)
	}
}

// TestChatIsBounded: a client's chat (verto.info msg) becomes the switch's
// MESSAGE event, which its chat plan may send on as a SIP MESSAGE: XCtrl
// refuses one whose to, or one of its from_* and to_* members, is over
// verto.MaxPartyLen bytes or holds a control character, or that has more
// than verto.MaxChatHeaders of those members; the node never sees it. The
// body's line breaks are its own.
func TestChatIsBounded(t *testing.T) {
	n, c := userOnCall(t, "chat")
	long := strings.Repeat("n", verto.MaxPartyLen+1)
	many := map[string]any{"to": "1001@" + ctrltest.Domain, "body": "b"}
	for i := range verto.MaxChatHeaders + 1 {
		many[fmt.Sprint("to_h", i)] = "v"
	}
	for _, tc := range []struct {
		name string
		msg  map[string]any
		ok   bool
		what string
	}{
		{"verto.js", map[string]any{"to": "1001@" + ctrltest.Domain, "from": "1000", "body": "line one\r\nline two"}, true, ""},
		{"a header", map[string]any{"to": "1001@" + ctrltest.Domain, "body": "b", "from_display": "Alice A"}, true, ""},
		{"to CRLF", map[string]any{"to": "1001@" + ctrltest.Domain + "\r\nX-Injected: 1", "body": "b"}, false, "msg.to"},
		{"to 8 KB", map[string]any{"to": strings.Repeat("1", 8<<10) + "@" + ctrltest.Domain, "body": "b"}, false, "msg.to"},
		{"a header long", map[string]any{"to": "1001@" + ctrltest.Domain, "body": "b", "from_display": long}, false, "msg.from_display"},
		{"a header LF", map[string]any{"to": "1001@" + ctrltest.Domain, "body": "b", "to_x": "1\n2"}, false, "msg.to_x"},
		{"too many headers", many, false, "msg"},
		// A chat plan's reply holds ${body} (the stock one's does), and
		// FreeSWITCH expands it again, API calls included.
		{"a variable in the body", map[string]any{"to": "1001@" + ctrltest.Domain, "body": "${system(id)}"}, false, "msg.body"},
	} {
		checkEdgeBound(t, n, c, tc.name, verto.MethodInfo, map[string]any{"msg": tc.msg}, tc.ok, tc.what)
		checkEdgeBound(t, n, c, tc.name+" in a call", verto.MethodInfo,
			map[string]any{"msg": tc.msg, "dialogParams": map[string]any{"callID": "chat"}}, tc.ok, tc.what)
	}
}

// A transfer's destination is a destination_number for the call's partner:
// it gets the invite's bounds (verto.MaxDestLen bytes, no control
// characters) at the edge, and one out of them never reaches the node
// (FreeSWITCH bore 60 KB and control characters in its dialplan, but no
// dialplan author expects them).
func TestTransferDestinationIsBounded(t *testing.T) {
	n, c := userOnCall(t, "xfer")
	transfer := func(dest any) *verto.Message {
		return c.Call(verto.MethodModify, map[string]any{"action": verto.ActionTransfer, "destination": dest,
			"dialogParams": map[string]any{"callID": "xfer"}})
	}
	for _, tc := range []struct {
		name, dest string
		ok         bool
	}{
		{"a number", "9924", true},
		{"the longest", strings.Repeat("1", verto.MaxDestLen), true},
		{"a byte too long", strings.Repeat("1", verto.MaxDestLen+1), false},
		{"60 KB", strings.Repeat("1234567890", 6<<10), false},
		{"CR LF", "99\r\n24", false},
		{"NUL", "9924\x00", false},
		// FreeSWITCH expands a variable's value again, API calls
		// included: the stock dialplan's ${destination_number} ran it.
		{"an API call", "${system(touch /tmp/x)}", false},
		{"a variable", "99${uuid}", false},
	} {
		checkEdgeBound(t, n, c, tc.name, verto.MethodModify, map[string]any{"action": verto.ActionTransfer, "destination": tc.dest,
			"dialogParams": map[string]any{"callID": "xfer"}}, tc.ok, "destination")
	}
	// Other actions, and a destination that is not a string, are the
	// node's to judge, as before.
	if r := c.Call(verto.MethodModify, map[string]any{"action": verto.ActionHold, "destination": strings.Repeat("1", 300),
		"dialogParams": map[string]any{"callID": "xfer"}}); r.Error != nil {
		t.Errorf("hold with a destination beside it: %+v", r.Error)
	}
	before := n.Count(verto.MethodModify)
	transfer(9924)
	if n.Count(verto.MethodModify) != before+1 {
		t.Error("a transfer to a number did not reach the node")
	}
}

// TestPartiesAreBounded: the names and numbers of a call's parties a
// client's invite gives (verto.CallerKeys) become the channel's caller
// profile and go on to its other legs, into a SIP From header among them:
// XCtrl refuses an invite with one over verto.MaxPartyLen bytes or with a
// control character (a line break would end the header), and the node never
// sees it. verto.js repeats its dialogParams in every message of a call,
// FreeSWITCH's own caller ids too on a call placed to it: the other
// messages are not refused for them.
func TestPartiesAreBounded(t *testing.T) {
	n, c := userOnCall(t, "party")
	long := strings.Repeat("n", verto.MaxPartyLen+1)
	invite := func(i int, k, v string) map[string]any {
		return map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{"callID": fmt.Sprint("party-", k, i), "destination_number": "9196", k: v}}
	}
	for _, k := range verto.CallerKeys {
		checkEdgeBound(t, n, c, k+" the longest", verto.MethodInvite, invite(0, k, long[1:]), true, k)
		checkEdgeBound(t, n, c, k+" too long", verto.MethodInvite, invite(1, k, long), false, k)
		checkEdgeBound(t, n, c, k+" CRLF", verto.MethodInvite, invite(2, k, "Alice\r\nX-Injected: 1"), false, k)
		checkEdgeBound(t, n, c, k+" variable", verto.MethodInvite, invite(4, k, "Alice ${system(id)}"), false, k)
	}
	checkEdgeBound(t, n, c, "destination_number variable", verto.MethodInvite, map[string]any{"sdp": "v=0\r\n",
		"dialogParams": map[string]any{"callID": "party-dest", "destination_number": "${system(id)}"}}, false, "destination_number")
	r := c.Call(verto.MethodInvite, invite(3, "caller_id_name", strings.Repeat("A", 8<<10)))
	if r.Error == nil || r.Error.Code != verto.CodeInvalidParams || !strings.Contains(r.Error.Message, "caller_id_name") {
		t.Errorf("an invite with an 8 KB caller_id_name: %+v", r.Error)
	}
	// The call's other messages carry them on, unread.
	dialog := map[string]any{"callID": "party", "caller_id_name": long, "remote_caller_id_number": "1\r\n2", "callee_id_name": long}
	checkEdgeBound(t, n, c, "info", verto.MethodInfo, map[string]any{"dialogParams": dialog}, true, "")
	checkEdgeBound(t, n, c, "hold", verto.MethodModify, map[string]any{"action": verto.ActionHold, "dialogParams": dialog}, true, "")
	before := n.Count(verto.MethodAnswer)
	if r := c.Call(verto.MethodAnswer, map[string]any{"sdp": "v=0\r\n", "callee_id_name": long, "dialogParams": dialog}); r.Error != nil && r.Error.Code == verto.CodeInvalidParams {
		t.Errorf("an answer refused for its parties: %+v", r.Error)
	}
	if n.Count(verto.MethodAnswer) != before+1 {
		t.Error("the answer did not reach the node")
	}
}

// TestUserVariablesBytesAreBounded: under verto.MaxUserVariables a client
// could still put 100 values of a frame's size (25 MiB) on a call, and
// FreeSWITCH copies every channel variable into each of the channel's
// events: XCtrl refuses a message whose dialogParams.userVariables hold
// more than verto.MaxUserVariablesBytes; the node bounds a call's own.
func TestUserVariablesBytesAreBounded(t *testing.T) {
	n, c := userOnCall(t, "uvb")
	for _, tc := range []struct {
		name string
		vars map[string]any
		ok   bool
	}{
		{"verto.js sized", map[string]any{"avatar": "https://example.com/a.png", "email": "a@example.com"}, true},
		{"just under", map[string]any{"v": strings.Repeat("x", verto.MaxUserVariablesBytes-64)}, true},
		{"one value over", map[string]any{"v": strings.Repeat("x", verto.MaxUserVariablesBytes)}, false},
		{"100 of 2.5 KB", func() map[string]any {
			m := map[string]any{}
			for i := 0; i < verto.MaxUserVariables; i++ {
				m[fmt.Sprint("v", i)] = strings.Repeat("x", 2500)
			}
			return m
		}(), false},
		{"an object value over", map[string]any{"v": map[string]any{"deep": strings.Repeat("x", verto.MaxUserVariablesBytes)}}, false},
	} {
		checkEdgeBound(t, n, c, tc.name, verto.MethodInfo,
			map[string]any{"dialogParams": map[string]any{"callID": "uvb", "userVariables": tc.vars}}, tc.ok, "userVariables")
	}
	before := n.Count(verto.MethodInvite)
	if r := c.Call(verto.MethodInvite, map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{"callID": "uvb2",
		"destination_number": "9196", "userVariables": map[string]any{"v": strings.Repeat("x", 64<<10)}}}); r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
		t.Errorf("an invite with 64 KB of userVariables: %+v", r.Error)
	}
	if n.Count(verto.MethodInvite) != before {
		t.Error("an invite with 64 KB of userVariables reached the node")
	}
}
