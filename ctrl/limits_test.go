package ctrl_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/conf"
	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// alive checks that the socket still answers.
func alive(t *testing.T, c *ctrltest.Browser) {
	t.Helper()
	if r := c.Call(verto.MethodPing, nil); r.Error != nil || ctrltest.Param(r, "message") != "PONG" {
		t.Fatalf("socket does not answer a ping: %+v", r.Error)
	}
}

func TestBadFrames(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxFrameBytes = 4096
		c.Limits.MaxBatch = 4
	})
	c := e.Login(x, "1000")
	for _, tc := range []struct {
		name  string
		frame string
		code  int
		msg   string
	}{
		{"not JSON", `{"jsonrpc":"2.0",`, verto.CodeInvalidRequest, verto.MsgInvalidRequest},
		{"wrong version", `{"jsonrpc":"1.0","id":7,"method":"verto.ping"}`, verto.CodeInvalidRequest, verto.MsgInvalidMessage},
		{"no method", `{"jsonrpc":"2.0","id":8}`, verto.CodeMethodNotFound, verto.MsgMethodNotFound},
		{"unknown method", `{"jsonrpc":"2.0","id":9,"method":"verto.nope","params":{}}`, verto.CodeMethodNotFound, verto.MsgMethodNotFound},
		{"jsapi off", `{"jsonrpc":"2.0","id":10,"method":"jsapi","params":{"command":"fsapi"}}`, verto.CodeMethodNotFound, verto.MsgMethodNotFound},
		{"fsapi off", `{"jsonrpc":"2.0","id":11,"method":"fsapi","params":{"cmd":"status"}}`, verto.CodeMethodNotFound, verto.MsgMethodNotFound},
		{"too large", `{"jsonrpc":"2.0","id":12,"method":"echo","params":{"x":"` + strings.Repeat("a", 5000) + `"}}`, verto.CodeInvalidRequest, verto.MsgTooLarge},
		{"batch too large", `[` + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"verto.ping"},`, 4) + `{"jsonrpc":"2.0","id":1,"method":"verto.ping"}]`, verto.CodeInvalidRequest, verto.MsgBatchTooLarge},
		{"params not an object", `{"jsonrpc":"2.0","id":13,"method":"verto.invite","params":"x"}`, verto.CodeInvalidRequest, verto.MsgInvalidMessage},
		{"deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), verto.CodeInvalidRequest, verto.MsgInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SendRaw([]byte(tc.frame)); err != nil {
				t.Fatal(err)
			}
			m := c.Next(func(m *verto.Message) bool { return m.Kind() == verto.KindError })
			if m.Error.Code != tc.code || m.Error.Message != tc.msg {
				t.Fatalf("got %d %q", m.Error.Code, m.Error.Message)
			}
			alive(t, c)
		})
	}
}

func TestBatch(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1000")
	c.Reply(c.Invite("b1", "9196", nil))
	frame := `[{"jsonrpc":"2.0","id":101,"method":"verto.ping","params":{}},` +
		`{"jsonrpc":"1.0","id":102,"method":"verto.ping"},` +
		`{"jsonrpc":"2.0","method":"verto.ping","params":{}},` +
		`{"jsonrpc":"2.0","id":103,"method":"verto.modify","params":{"action":"hold","dialogParams":{"callID":"b1"}}},` +
		`{"jsonrpc":"2.0","id":104,"result":{"method":"verto.answer"}}]`
	if err := c.SendRaw([]byte(frame)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 3; i++ {
		m := c.Next(func(m *verto.Message) bool { return m.Kind() == verto.KindResult || m.Kind() == verto.KindError })
		ids = append(ids, m.ID.String())
		if m.ID.String() == "103" && ctrltest.Param(m, "holdState") != verto.HoldStateHeld {
			t.Fatalf("relayed member: %s", m.Result)
		}
	}
	if got := strings.Join(ids, ","); got != "101,102,103" {
		t.Fatalf("batch replies %s", got)
	}
}

func TestRateLimit(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec = 1
		c.Limits.RateBurst = 5
	})
	c := e.Dial(x)
	var limited int
	for i := 0; i < 10; i++ {
		r := c.Call(verto.MethodLogin, map[string]any{})
		if r.Error != nil && r.Error.Message == verto.MsgRateLimited {
			limited++
		}
	}
	if limited < 4 {
		t.Fatalf("%d of 10 messages limited at burst 5", limited)
	}
	if open, _ := x.Sockets(); open != 1 {
		t.Fatal("rate-limited socket was dropped")
	}
}

func TestJSAPIWhenEnabled(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	e.Users.Add("1200", ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-methods": "verto,jsapi", "jsonrpc-allowed-jsapi": "fsapi"})
	x := e.StartCtrl(func(c *ctrl.Config) { c.EnableJSAPI = true })
	e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1200")
	if r := c.Call(verto.MethodJSAPI, map[string]any{"command": "fsapi", "data": map[string]any{}}); r.Error != nil {
		t.Fatalf("allowed jsapi: %+v", r.Error)
	}
	if r := c.Call(verto.MethodJSAPI, map[string]any{"command": "other"}); r.Error == nil || r.Error.Code != verto.CodeInvalidParams {
		t.Fatalf("forbidden jsapi command: %+v", r.Error)
	}
	if r := c.Call(verto.MethodFSAPI, map[string]any{"cmd": "status"}); r.Error == nil || r.Error.Code != verto.CodeMethodNotFound {
		t.Fatalf("fsapi still off: %+v", r.Error)
	}
}

func TestSlowReaderIsDropped(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxQueue = 64
		c.Limits.MaxQueueBytes = 1 << 20
		c.Timers.Write = time.Minute
	})
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1000")
	fast := e.Login(x, "1001")
	// Stop reading: a raw connection that never reads, logged in (with a
	// small receive window, so that the server's queue fills soon).
	conn, _, err := smallWindowDialer().DialContext(e.Ctx, x.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sessid := "slow-" + c.Sessid
	login, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "login",
		"params": map[string]any{"login": "1002@" + ctrltest.Domain, "passwd": ctrltest.Password, "sessid": sessid}})
	if err := conn.WriteMessage(websocket.TextMessage, login); err != nil {
		t.Fatal(err)
	}
	if err := x.WaitSockets(e.Ctx, func(_, in int) bool { return in == 3 }); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	dropped := false
	for i := 0; i < 2000 && !dropped; i++ {
		rep, err := n.Request(e.Ctx, x.CtrlUUID(), verto.MethodEvent, map[string]any{"eventChannel": sessid, "sessid": sessid,
			"data": map[string]any{"blob": big, "i": i}})
		if err != nil {
			t.Fatal(err)
		}
		dropped = rep.Error != nil && rep.Error.Message == verto.MsgSessionNotFound
	}
	if !dropped {
		t.Fatal("a client that never reads was not dropped")
	}
	// Everyone else goes on.
	alive(t, c)
	alive(t, fast)
	if !strings.Contains(scrape(t, x), "xctrl_slow_clients_dropped_total 1") {
		t.Fatal("drop not counted")
	}
	_ = fmt.Sprint()
}

// TestInviteFloodFromOneUser: one user's invites, from any number of its
// sockets, are bounded per second: past the burst they are refused here and
// never reach a node, whose FreeSWITCH takes a few dozen new sessions a
// second for everybody (sessions-per-second). Another user still calls.
func TestInviteFloodFromOneUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.InviteRatePerUser = 1
		c.Limits.InviteBurstPerUser = 5
	})
	n := e.StartNode(fakenode.Options{UUID: "n1", SessionsMax: 1000})
	a, b := e.Login(x, "1000"), e.Login(x, "1000")
	const each = 20
	var ids []int64
	var callIDs []string
	for i := 0; i < each; i++ {
		for j, c := range []*ctrltest.Browser{a, b} {
			callID := fmt.Sprintf("flood-%d-%d", j, i)
			ids, callIDs = append(ids, c.Invite(callID, "9196", nil)), append(callIDs, callID)
		}
	}
	created, refused := 0, 0
	for i, id := range ids {
		c := []*ctrltest.Browser{a, b}[i%2]
		r := c.Reply(id)
		switch {
		case r.Error == nil:
			created++
		case r.Error.Message == verto.MsgRateLimited && r.Error.Code == verto.CodeSessionError:
			refused++
			var got string
			r.Error.Field(verto.KeyCallID, &got)
			if got != callIDs[i] {
				t.Fatalf("refusal names callID %q, want %q", got, callIDs[i])
			}
		default:
			t.Fatalf("invite %s: %+v", callIDs[i], r.Error)
		}
	}
	// The burst, and what one second more of sending may have refilled.
	if created < 5 || created > 7 || created+refused != 2*each {
		t.Fatalf("%d invites created, %d refused; want 5 to 7 created, the rest refused", created, refused)
	}
	if on := len(n.Calls()); on != created {
		t.Fatalf("the node holds %d calls, want %d: a refused invite reached it", on, created)
	}
	other := e.Login(x, "1001")
	if r := other.Reply(other.Invite("other-user", "9196", nil)); r.Error != nil {
		t.Fatalf("another user's invite: %+v", r.Error)
	}
}

// TestSocketsPerUser: one login holds at most MaxSocketsPerUser logged-in
// sockets on an instance, so that one credential cannot take every socket
// XCtrl has (--max-sockets) from everybody else; the bound holds for logins
// that race, and a reload that keeps its sessid replaces its socket.
func TestSocketsPerUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.Limits.MaxSocketsPerUser = 3 })
	login := func(b *ctrltest.Browser, user string) error {
		_, _, err := b.Client.Login(e.Ctx, user+"@"+ctrltest.Domain, ctrltest.Password, nil)
		return err
	}
	held := []*ctrltest.Browser{e.Login(x, "1000"), e.Login(x, "1000"), e.Login(x, "1000")}
	extra := e.Dial(x)
	err := login(extra, "1000")
	if err == nil || !strings.Contains(err.Error(), verto.MsgTooManySockets) {
		t.Fatalf("a fourth socket's login: %v", err)
	}
	alive(t, held[0])
	// A reload: the first socket's sessid on a new socket takes its place.
	again := e.DialSessid(x, held[0].Sessid)
	if err := login(again, "1000"); err != nil {
		t.Fatalf("a reload at the bound: %v", err)
	}
	held[0].Expect(verto.MethodPunt)
	// A closed socket gives its place back.
	held[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b := e.Dial(x)
		err := login(b, "1000")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a close: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Logins that race: exactly the bound gets in.
	const racers = 12
	errs := make(chan error, racers)
	for i := 0; i < racers; i++ {
		b := e.Dial(x)
		go func() { errs <- login(b, "1001") }()
	}
	ok := 0
	for i := 0; i < racers; i++ {
		if err := <-errs; err == nil {
			ok++
		} else if !strings.Contains(err.Error(), verto.MsgTooManySockets) {
			t.Fatalf("a racing login: %v", err)
		}
	}
	if ok != 3 {
		t.Fatalf("%d of %d racing logins of one user got in, want 3", ok, racers)
	}
	// Other users are not touched.
	alive(t, e.Login(x, "1002"))
}

// TestPreLoginFrameBound: a socket that has not logged in may send frames
// of MaxPreLoginFrameBytes at most (a login is small), not MaxFrameBytes:
// a bigger one is dropped as it streams in, never held, so that sockets
// that never log in cannot make XCtrl hold MaxFrameBytes each. Logged in,
// the socket has the whole MaxFrameBytes.
func TestPreLoginFrameBound(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxFrameBytes = 64 << 10
		c.Limits.MaxPreLoginFrameBytes = 8 << 10
	})
	c := e.Dial(x)
	big := strings.Repeat("x", 12<<10)
	c.Send(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain,
		"passwd": ctrltest.Password, "userVariables": map[string]any{"note": big}})
	m := c.Next(func(m *verto.Message) bool { return m.Kind() == verto.KindError || m.Kind() == verto.KindResult })
	if m.Error == nil || m.Error.Message != verto.MsgTooLarge {
		t.Fatalf("a 12 KiB frame before login: %+v %s", m.Error, m.Result)
	}
	c.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	if r := c.Call(verto.MethodPing, map[string]any{"note": big}); r.Error != nil {
		t.Fatalf("a 12 KiB frame after login: %+v", r.Error)
	}
}

// TestSlowReadersShareOneBound: the bytes XCtrl holds for all sockets
// together are bounded (MaxQueuedTotal): past it, a socket that is behind
// is dropped long before its own MaxQueueBytes, so that many sockets that
// do not read cannot make XCtrl hold MaxQueueBytes each. Sockets that read
// are not touched.
func TestSlowReadersShareOneBound(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxQueue = 1 << 16
		c.Limits.MaxQueueBytes = 16 << 20
		c.Limits.MaxQueuedTotal = 1 << 20
		c.Timers.Write = time.Minute
	})
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	reader := e.Login(x, "1000")
	var slow []string
	var conns []*websocket.Conn
	for i := 0; i < 2; i++ {
		conn, _, err := smallWindowDialer().DialContext(e.Ctx, x.WSURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
		sessid := fmt.Sprintf("slow-%d-%s", i, reader.Sessid)
		login, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "login",
			"params": map[string]any{"login": fmt.Sprintf("100%d@%s", i+1, ctrltest.Domain), "passwd": ctrltest.Password, "sessid": sessid}})
		if err := conn.WriteMessage(websocket.TextMessage, login); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, sessid)
	}
	if err := x.WaitSockets(e.Ctx, func(_, in int) bool { return in == 3 }); err != nil {
		t.Fatal(err)
	}
	held := func() float64 {
		for _, l := range strings.Split(scrape(t, x), "\n") {
			if v, ok := strings.CutPrefix(l, "xctrl_send_queued_bytes "); ok {
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
		}
		t.Fatal("no xctrl_send_queued_bytes")
		return 0
	}
	big := strings.Repeat("x", 64<<10)
	// Each slow socket's own bound is 16 MiB (256 events, and what the
	// kernel takes in its socket buffer); one of them must go once both
	// hold about 1 MiB together in XCtrl.
	dropped := ""
	for i := 0; i < 256 && dropped == ""; i++ {
		for _, sessid := range slow {
			rep, err := n.Request(e.Ctx, x.CtrlUUID(), verto.MethodEvent, map[string]any{"eventChannel": sessid, "sessid": sessid,
				"data": map[string]any{"blob": big, "i": i}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Error != nil && rep.Error.Message == verto.MsgSessionNotFound {
				dropped = sessid
				break
			}
			if h := held(); h > 1<<20+2*(64<<10+1024) {
				t.Fatalf("XCtrl holds %.0f bytes for its sockets, over the bound of 1 MiB", h)
			}
		}
	}
	if dropped == "" {
		t.Fatal("256 events of 64 KiB sent to each of two sockets that do not read, neither dropped")
	}
	alive(t, reader)
	if !strings.Contains(scrape(t, x), "xctrl_slow_clients_dropped_total 1") {
		t.Fatal("drop not counted")
	}
	// Closed, the other slow socket gives back what it held: the count
	// comes back to nothing.
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for held() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("XCtrl still counts %.0f bytes held once the slow sockets are closed", held())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoginChurnFromOneUser: one user's successful logins are bounded per
// second (over all its sockets on the instance): each login writes the
// registry and may ask nodes, so a credential that logs in, closes and
// logs in again in a loop would take XCtrl and JetStream from everybody.
// Another user still logs in; a login refused so is not a failure (the
// address is not throttled for it).
func TestLoginChurnFromOneUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.LoginRatePerUser = 0.01
		c.Limits.LoginBurstPerUser = 3
		c.Limits.LoginFailuresPerAddr = 2
	})
	for i := 0; i < 3; i++ {
		b := e.Login(x, "1000")
		b.Close()
	}
	for i := 0; i < 3; i++ {
		r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": ctrltest.Password})
		if r.Error == nil || r.Error.Message != verto.MsgRateLimited || r.Error.Code != verto.CodeAuthFailed {
			t.Fatalf("login %d past the burst: %+v", 4+i, r.Error)
		}
	}
	alive(t, e.Login(x, "1001"))
	if !strings.Contains(scrape(t, x), `xctrl_logins_total{result="rate_limited"} 3`) {
		t.Fatal("refusals not counted")
	}
}

// TestMessagesFromOneUser: what one user sends, all its sockets together,
// is bounded per second (UserRatePerSec) as each socket's is (RatePerSec):
// else a user with 256 sockets sends 256 times a socket's rate, and every
// message may reach a node. Past the bound, requests are answered Rate
// limit exceeded; another user's are not.
func TestMessagesFromOneUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec, c.Limits.RateBurst = 1e6, 1e6
		c.Limits.UserRatePerSec, c.Limits.UserRateBurst = 0.01, 40
	})
	a, b := e.Login(x, "1000"), e.Login(x, "1000")
	const each = 100
	for i := 0; i < each; i++ {
		a.Send(verto.MethodPing, nil)
		b.Send(verto.MethodPing, nil)
	}
	pong, limited := tally(t, each, a, b)
	if pong != 40 || limited != 2*each-40 {
		t.Fatalf("one user's two sockets: %d pings answered, %d refused; want 40 answered (the user's burst)", pong, limited)
	}
	alive(t, e.Login(x, "1001"))
	if !strings.Contains(scrape(t, x), "xctrl_user_rate_limited_total 160") {
		t.Fatal("refusals not counted")
	}
}

// TestDataFromOneUser: the bytes one user sends, all its sockets together,
// are bounded per second (UserBytesPerSec, UserBytesBurst) as its messages
// are: within the message rates, a user's frames of --max-frame each carried
// 50 MiB a second to a node of the user's choosing. Past the bound a
// request is answered Rate limit exceeded and reaches no node; the socket
// stays, small messages pass again as the bucket refills, and another
// user's are not touched. The defaults are the bound tested.
func TestDataFromOneUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec, c.Limits.RateBurst = 1e6, 1e6
	})
	node := e.StartNode(fakenode.Options{UUID: "n1"})
	a, b := e.Login(x, "1000"), e.Login(x, "1000")
	big := strings.Repeat("x", 200<<10)
	const each = 32 // 64 frames of 200 KiB: 12.5 MiB
	start := time.Now()
	for i := 0; i < each; i++ {
		a.Send(verto.MethodInfo, map[string]any{"txt": big})
		b.Send(verto.MethodInfo, map[string]any{"txt": big})
	}
	sent, limited := tally(t, each, a, b)
	elapsed := time.Since(start)
	// Each frame is a little over 200 KiB: the 8 MiB burst takes 40 of
	// them, and the 1 MiB a second that came back meanwhile a few more.
	most := int((8<<20 + elapsed.Seconds()*(1<<20)) / (200 << 10))
	// On a machine so slow that the bucket refilled all of it, nothing
	// need be refused.
	if limited == 0 && most < 2*each || sent < 39 || sent > most {
		t.Fatalf("one user's two sockets sent 64 frames of 200 KiB in %v: %d relayed, %d refused; want 39 to %d relayed", elapsed, sent, limited, most)
	}
	if got := node.Count(verto.MethodInfo); got != sent {
		t.Fatalf("the node got %d verto.info, want the %d relayed", got, sent)
	}
	if r := a.Call(verto.MethodPing, nil); r.Error != nil {
		t.Fatalf("a small message after the refusals: %+v", r.Error)
	}
	if r := e.Login(x, "1001").Call(verto.MethodInfo, map[string]any{"txt": big}); r.Error != nil {
		t.Fatalf("another user's frame: %+v", r.Error)
	}
	if want := fmt.Sprintf("xctrl_user_data_limited_total %d", limited); !strings.Contains(scrape(t, x), want) {
		t.Fatalf("refusals not counted: want %q", want)
	}
}

// TestIdentityWeighsOnDataBound: each relayed message carries the user's
// identity (its login's userVariables, up to the pre-login frame cap, and
// its directory variables), so each counts against the user's data bound
// with it: else small messages carried 12 KiB each to the nodes, 200 a
// second, past the bound of 1 MiB a second.
func TestIdentityWeighsOnDataBound(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec, c.Limits.RateBurst = 1e6, 1e6
	})
	node := e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Dial(x)
	note := strings.Repeat("x", 12<<10)
	if r := c.Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": ctrltest.Password,
		"userVariables": map[string]any{"note": note}}); r.Error != nil {
		t.Fatalf("login: %+v", r.Error)
	}
	const n = 1000 // 12 MiB to the nodes, in 1,000 messages of 40 bytes or so
	start := time.Now()
	for i := 0; i < n; i++ {
		c.Send(verto.MethodInfo, map[string]any{"dtmf": "1"})
	}
	sent, _ := tally(t, n, c)
	most := int((8<<20+time.Since(start).Seconds()*(1<<20))/(12<<10)) + 1
	if sent == n && most < n || sent > most {
		t.Fatalf("%d of %d messages relayed with a 12 KiB identity each; want at most %d", sent, n, most)
	}
	if got := node.Count(verto.MethodInfo); got != sent {
		t.Fatalf("the node got %d verto.info, want the %d relayed", got, sent)
	}
}

// TestUndecodableFramesWeighOnDataBound: a frame XCtrl cannot decode
// weighs on its user's data bound as one it relays does: before, only a
// socket's message rate bounded them, so a user's 256 sockets could make
// XCtrl read and validate 256 KiB frames at 50 a second each (3.2 GB a
// second) past the 1 MiB a second bound. Past the bound such a frame is
// answered Rate limit exceeded.
func TestUndecodableFramesWeighOnDataBound(t *testing.T) {
	// Valid JSON but for its last byte: validated to its end.
	junk := []byte(`{"jsonrpc":"2.0","id":1,"method":"verto.info","params":{"x":"` + strings.Repeat("a", 200<<10) + `"}`)
	checkFramesWeigh(t, 256<<10, junk, verto.MsgInvalidRequest)
}

// TestOversizedFramesWeighOnDataBound: a message over the frame cap is read
// to its end and dropped; before, only a socket's message rate bounded
// them, so a user had XCtrl read 256 KiB and more at 50 a second on each of
// its sockets, past the bound every other frame is held to. Its bytes now
// weigh on the user's data bound, and past it it is answered Rate limit
// exceeded.
func TestOversizedFramesWeighOnDataBound(t *testing.T) {
	checkFramesWeigh(t, 64<<10, []byte(strings.Repeat("a", 200<<10)), verto.MsgTooLarge)
}

// TestEndlessFrameClosesTheSocket: a message over the cap is read to its
// end and dropped, so a client that declared a frame of a gigabyte, or
// kept sending fragments, had XCtrl read whatever it sent, for as long as it
// sent, logged in or not. A message over four times the cap (1 MiB after
// login, 64 KiB before) closes the socket with 1009 (Message too big) at its
// header, before its payload is read; one over the cap but under that is
// still answered Message too large.
func TestEndlessFrameClosesTheSocket(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.Limits.MaxFrameBytes = 256 << 10 })
	c := e.Login(x, "1000")
	_ = c.SendRaw([]byte(strings.Repeat("a", 300<<10)))
	if m := c.Next(func(m *verto.Message) bool { return m.Kind() == verto.KindError }); m.Error.Message != verto.MsgTooLarge {
		t.Fatalf("a frame of 300 KiB: %+v", m.Error)
	}
	alive(t, c)
	_ = c.SendRaw([]byte(strings.Repeat("a", 4<<20))) // XCtrl closes while it is written
	if code := c.Closed(); code != websocket.CloseMessageTooBig {
		t.Fatalf("a frame of 4 MiB: closed with %d, want 1009", code)
	}
	// Before login.
	pre := e.Dial(x)
	_ = pre.SendRaw([]byte(strings.Repeat("a", 65<<10)))
	if code := pre.Closed(); code != websocket.CloseMessageTooBig {
		t.Fatalf("a frame of 65 KiB before login: closed with %d, want 1009", code)
	}
}

// checkFramesWeigh sends 32 frames of 200 KiB (6.4 MiB) that XCtrl reads
// but never relays, answered read, on a socket whose user may send 256 KiB
// and 64 KiB a second more (frames of at most maxFrame): at most what that
// bound lets through may be answered read, the rest Rate limit exceeded.
func checkFramesWeigh(t *testing.T, maxFrame int, frame []byte, read string) {
	t.Helper()
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec, c.Limits.RateBurst = 1e6, 1e6
		c.Limits.MaxFrameBytes = maxFrame
		c.Limits.UserBytesPerSec, c.Limits.UserBytesBurst = 64<<10, 256<<10
	})
	c := e.Login(x, "1000")
	const n = 32
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.SendRaw(frame); err != nil {
			t.Fatal(err)
		}
	}
	answered, limited := 0, 0
	for i := 0; i < n; i++ {
		m := c.Next(func(m *verto.Message) bool { return m.Kind() == verto.KindError })
		switch m.Error.Message {
		case verto.MsgRateLimited:
			limited++
		case read:
			answered++
		default:
			t.Fatalf("reply %d: %+v", i, m.Error)
		}
	}
	most := int((256<<10+time.Since(start).Seconds()*(64<<10))/float64(len(frame))) + 1
	if answered > most {
		t.Fatalf("%d of %d frames of %d bytes were answered %q (%d refused); want at most %d", answered, n, len(frame), read, limited, most)
	}
	alive(t, c)
}

// tally reads the replies to the n requests each of cs sent, and counts
// the results and the Rate limit exceeded errors; another error fails the
// test.
func tally(t *testing.T, n int, cs ...*ctrltest.Browser) (ok, limited int) {
	t.Helper()
	for _, c := range cs {
		for i := 0; i < n; i++ {
			m := c.Next(func(m *verto.Message) bool { return m.Kind() == verto.KindResult || m.Kind() == verto.KindError })
			switch {
			case m.Error == nil:
				ok++
			case m.Error.Message == verto.MsgRateLimited:
				limited++
			default:
				t.Fatalf("reply %d: %+v", i, m.Error)
			}
		}
	}
	return ok, limited
}

// TestSubscriptionsPerUser: one user's event channels, all its sockets
// together, are bounded (MaxSubscriptionsPerUser) as each socket's are
// (MaxSubscriptions): every subscription is kept by XCtrl and by the nodes
// it goes to, and a user holds up to MaxSocketsPerUser sockets. What is
// unsubscribed or closed is given back. (Subscriptions of one user are
// counted and added under one lock; the four at once below rarely race
// within that window, so they check the sum, not the lock.)
func TestSubscriptionsPerUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	for _, u := range []string{"1000", "1001", "1002"} {
		e.Users.Add(u, ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-event-channels": "presence"})
	}
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxSubscriptions = 10
		c.Limits.MaxSubscriptionsPerUser = 15
	})
	e.StartNode(fakenode.Options{UUID: "n1"})
	chans := func(from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, fmt.Sprintf("presence.%d@%s", 2000+i, ctrltest.Domain))
		}
		return out
	}
	sub := func(c *ctrltest.Browser, ch []string) *verto.Error {
		return c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": ch}).Error
	}
	a, b := e.Login(x, "1000"), e.Login(x, "1000")
	if err := sub(a, chans(0, 10)); err != nil {
		t.Fatalf("10 channels on one socket: %+v", err)
	}
	if err := sub(b, chans(10, 5)); err != nil {
		t.Fatalf("5 more on the user's other socket: %+v", err)
	}
	if err := sub(b, chans(15, 1)); err == nil || !strings.Contains(err.Message, "for one user") {
		t.Fatalf("a 16th channel of the user: %+v", err)
	}
	if r := a.Call(verto.MethodUnsubscribe, map[string]any{"eventChannel": chans(0, 3)}); r.Error != nil {
		t.Fatalf("unsubscribe: %+v", r.Error)
	}
	if err := sub(b, chans(15, 3)); err != nil {
		t.Fatalf("after 3 unsubscribed: %+v", err)
	}
	if err := sub(e.Login(x, "1001"), chans(0, 10)); err != nil {
		t.Fatalf("another user: %+v", err)
	}
	a.Close()
	b.Close()
	// Four sockets of a new user ask 5 channels each at once.
	var socks []*ctrltest.Browser
	for i := 0; i < 4; i++ {
		socks = append(socks, e.Login(x, "1002"))
	}
	errs := make(chan *verto.Error, len(socks))
	for i, c := range socks {
		go func() { errs <- sub(c, chans(100+5*i, 5)) }()
	}
	ok := 0
	for range socks {
		if err := <-errs; err == nil {
			ok++
		}
	}
	if ok != 3 {
		t.Fatalf("%d of 4 subscriptions of 5 got in under a bound of 15, want 3", ok)
	}
}

// TestBroadcastFloodFromOneUser: a verto.broadcast reaches every socket
// subscribed to its channel (a conference's chat or liveArray: hundreds of
// sockets), so one user's broadcasts are bounded on their own, far below
// the user's message rate (found by reading: 2,000 broadcasts of one user
// in a burst made 2,000 times the channel's subscribers in frames). Past
// the bound a broadcast is answered Rate limit exceeded and reaches no
// node; others broadcast on.
func TestBroadcastFloodFromOneUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.BroadcastRatePerUser = 1
		c.Limits.BroadcastBurstPerUser = 5
	})
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	for _, u := range []string{"caster", "other"} {
		e.Users.Add(u, ctrltest.Domain, ctrltest.Password, map[string]string{conf.ParamAllowedEventChannels: "demo"})
	}
	a, b := e.Login(x, "caster"), e.Login(x, "caster")
	chat := map[string]any{"eventChannel": "demo", "data": map[string]any{"action": "send", "message": "hi"}}
	const each = 20
	var ids []int64
	for i := 0; i < each; i++ {
		ids = append(ids, a.Send(verto.MethodBroadcast, chat), b.Send(verto.MethodBroadcast, chat))
	}
	passed, refused := 0, 0
	for i, id := range ids {
		r := []*ctrltest.Browser{a, b}[i%2].Reply(id)
		switch {
		case r.Error == nil && ctrltest.Param(r, "message") == "":
			passed++
		case r.Error == nil:
			t.Fatalf("broadcast %d: %s", i, r.Result)
		case r.Error.Message == verto.MsgRateLimited:
			refused++
		default:
			t.Fatalf("broadcast %d: %+v", i, r.Error)
		}
	}
	if passed < 5 || passed > 7 || passed+refused != 2*each {
		t.Fatalf("%d broadcasts passed, %d refused; want 5 to 7 passed, the rest refused", passed, refused)
	}
	if got := n.Count(verto.MethodBroadcast); got != passed {
		t.Fatalf("the node got %d broadcasts, want %d: a refused one reached it", got, passed)
	}
	other := e.Login(x, "other")
	if r := other.Call(verto.MethodBroadcast, chat); r.Error != nil || ctrltest.Param(r, "message") != "" {
		t.Fatalf("another user's broadcast: %+v %s", r.Error, r.Result)
	}
}

// TestCallsPerUser: one login holds at most MaxCallsPerUser calls through
// an instance, from all its sockets: a client that keeps its calls' media
// going holds them for ever, and the invite rate alone would let it fill a
// node's FreeSWITCH (max-sessions) a few calls a second. An invite past the
// bound is refused here and never reaches a node; a call that ends, or
// fails, gives its place back; an answered call to the user counts; other
// users are not touched.
func TestCallsPerUser(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxCallsPerUser = 3
		c.Limits.InviteRatePerUser = -1
	})
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	a, b := e.Login(x, "1000"), e.Login(x, "1000")
	invite := func(c *ctrltest.Browser, callID, dest string) *verto.Message {
		t.Helper()
		return c.Reply(c.Invite(callID, dest, nil))
	}
	refused := func(r *verto.Message, callID string) {
		t.Helper()
		if r.Error == nil || r.Error.Message != verto.MsgTooManyCalls || r.Error.Code != verto.CodeSessionError {
			t.Fatalf("invite %s past the bound: %+v %s", callID, r.Error, r.Result)
		}
		var got string
		r.Error.Field(verto.KeyCallID, &got)
		if got != callID {
			t.Fatalf("refusal names callID %q, want %q", got, callID)
		}
	}
	for i, c := range []*ctrltest.Browser{a, a, b} {
		if r := invite(c, fmt.Sprint("c", i), "9196"); r.Error != nil {
			t.Fatalf("call %d: %+v", i, r.Error)
		}
	}
	refused(invite(b, "c3", "9196"), "c3")
	refused(invite(a, "c4", "9196"), "c4")
	if on := len(n.Calls()); on != 3 {
		t.Fatalf("the node holds %d calls, want 3: a refused invite reached it", on)
	}
	if r := e.Login(x, "1001"); r.Reply(r.Invite("other", "9196", nil)).Error != nil {
		t.Fatal("another user is refused")
	}
	// A hang-up gives the place back; a failed invite holds none.
	if r := a.Call(verto.MethodBye, ctrltest.CallParams("c0", nil)); r.Error != nil {
		t.Fatalf("bye: %+v", r.Error)
	}
	if r := invite(b, "failing", "fail"); r.Error == nil || r.Error.Message == verto.MsgTooManyCalls {
		t.Fatalf("an invite the node refuses: %+v", r.Error)
	}
	if r := invite(b, "c5", "9196"); r.Error != nil {
		t.Fatalf("after a hang-up: %+v", r.Error)
	}
	refused(invite(b, "c6", "9196"), "c6")
	// A call to the user, answered, is one of its calls too.
	if r := a.Call(verto.MethodBye, ctrltest.CallParams("c1", nil)); r.Error != nil {
		t.Fatalf("bye: %+v", r.Error)
	}
	if rep, err := n.Originate(e.Ctx, x.Config().RTCSubject, "1000@"+ctrltest.Domain, "to-user"); err != nil || rep.Error != nil {
		t.Fatalf("call to the user: %v %+v", err, rep)
	}
	a.ExpectCall(verto.MethodInvite, "to-user")
	if r := a.Call(verto.MethodAnswer, ctrltest.CallParams("to-user", map[string]any{"sdp": "v=0 answer"})); r.Error != nil {
		t.Fatalf("answer: %+v", r.Error)
	}
	b.ExpectCall(verto.MethodBye, "to-user") // it rang there too, and lost the race
	refused(invite(b, "c7", "9196"), "c7")
	// A closed socket's calls are detached (the node ends them unless a
	// socket takes them back, and then they count again): they leave
	// the count.
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		callID := fmt.Sprint("after-close-", i)
		r := invite(b, callID, "9196")
		if r.Error == nil {
			break
		}
		if r.Error.Message != verto.MsgTooManyCalls || time.Now().After(deadline) {
			t.Fatalf("after the socket with a call closed: %+v", r.Error)
		}
		time.Sleep(20 * time.Millisecond) // the close reaches XCtrl in its time
	}
}
