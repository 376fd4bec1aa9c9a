package ctrl_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

func TestNothingBeforeLogin(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	c := e.Dial(x)
	for _, method := range []string{verto.MethodInvite, verto.MethodPing, verto.MethodSubscribe, "no.such.method", verto.MethodEcho} {
		r := c.Call(method, map[string]any{})
		if r.Error == nil || r.Error.Code != verto.CodeAuthRequired {
			t.Errorf("%s before login: %+v", method, r.Error)
		}
	}
	// verto.js's first login carries only the sessid.
	if r := c.Call(verto.MethodLogin, nil); r.Error == nil || r.Error.Code != verto.CodeAuthRequired {
		t.Errorf("empty login: %+v", r.Error)
	}
}

func TestPasswordLogin(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	e.Users.Add("1300", ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-methods": "verto,echo"})
	x := e.StartCtrl(nil)
	c := e.Dial(x)
	res, ready := c.Login("1300@"+ctrltest.Domain, ctrltest.Password, nil)
	if ctrltest.Param(res, "message") != "logged in" || ctrltest.Param(res, "sessid") != c.Sessid {
		t.Fatalf("login result %s", res.Result)
	}
	var rp verto.ClientReadyParams
	if err := ctrltest.Decode(ready, &rp); err != nil || rp.ReattachedSessions == nil {
		t.Fatalf("clientReady %s: %v", ready.Params, err)
	}
	if r := c.Call(verto.MethodPing, nil); r.Error != nil || ctrltest.Param(r, "message") != "PONG" {
		t.Fatalf("ping after login: %+v", r)
	}
	if r := c.Call(verto.MethodEcho, map[string]any{"x": 1}); r.Error != nil || ctrltest.Param(r, "sessid") != c.Sessid {
		t.Fatalf("echo: %+v", r)
	}
	// jsonrpc-allowed-methods=verto (the stock directory's): echo is not
	// a verto.* method, and mod_verto refuses it.
	v := e.Login(x, "1000")
	if r := v.Call(verto.MethodEcho, map[string]any{"x": 1}); r.Error == nil || r.Error.Code != verto.CodeMethodNotFound {
		t.Fatalf("echo for a verto-only user: %+v", r)
	}
}

func TestLoginFailures(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	for _, tc := range []struct {
		name, login, passwd string
		params              map[string]any
		msg                 string
	}{
		{"wrong password", "1000@" + ctrltest.Domain, "nope", nil, verto.MsgAuthFailure},
		{"unknown user", "4242@" + ctrltest.Domain, ctrltest.Password, nil, verto.MsgAuthFailure},
		{"unknown domain", "1000@elsewhere", ctrltest.Password, nil, verto.MsgAuthFailure},
		{"missing passwd", "1000@" + ctrltest.Domain, "", nil, verto.MsgMissingPasswd},
		{"bad token", "1000@" + ctrltest.Domain, "x", map[string]any{"xcc_token": "a.b.c"}, verto.MsgAuthFailure},
		{"xui without endpoint", "1000@" + ctrltest.Domain, "x", map[string]any{"xui_sessid": "t"}, verto.MsgAuthFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.Dial(x)
			p := map[string]any{"login": tc.login, "passwd": tc.passwd}
			if tc.params != nil {
				p["loginParams"] = tc.params
			}
			r := c.Call(verto.MethodLogin, p)
			if r.Error == nil || r.Error.Code != verto.CodeAuthFailed || r.Error.Message != tc.msg {
				t.Fatalf("got %+v", r.Error)
			}
			// Still not logged in, socket still up.
			if r := c.Call(verto.MethodPing, nil); r.Error == nil || r.Error.Code != verto.CodeAuthRequired {
				t.Fatalf("ping after failed login: %+v", r.Error)
			}
		})
	}
}

func TestDirectoryLogin(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.DirectoryFile = "../testdata/conf/directory.xml" })
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	t.Run("a1-hash", func(t *testing.T) {
		e.Dial(x).Login("1005@xswitch.cn", "1234", nil)
	})
	t.Run("allowed methods", func(t *testing.T) {
		c := e.Dial(x)
		c.Login("1010@xswitch.cn", "1234", nil)
		if r := c.Call(verto.MethodModify, ctrltest.CallParams("c", map[string]any{"action": "hold"})); r.Error == nil ||
			r.Error.Code != verto.CodeMethodNotFound {
			t.Fatalf("verto.modify for 1010: %+v", r.Error)
		}
		if r := c.Call(verto.MethodEcho, map[string]any{"a": 1}); r.Error == nil || r.Error.Code != verto.CodeMethodNotFound {
			t.Fatalf("echo for 1010: %+v", r.Error)
		}
	})
	t.Run("context and caller id reach the node", func(t *testing.T) {
		c := e.Dial(x)
		res, _ := c.Login("1019@xswitch.cn", "1234", nil)
		if ctrltest.Param(res, "message") != "logged in" {
			t.Fatal(res.Result)
		}
		var lr verto.LoginResult
		if err := ctrltest.Decode(res, &lr); err != nil || lr.AuthExpires == 0 {
			t.Fatalf("login-expires gives auth-expires: %+v %v", lr, err)
		}
		c.Reply(c.Invite("dir-call", "9196", nil))
		got, err := n.Wait(e.Ctx, verto.MethodInvite, nil)
		if err != nil {
			t.Fatal(err)
		}
		var u verto.User
		got.Param("xrtc_user", &u)
		if u.Login != "1019@xswitch.cn" || u.Context != "webrtc" || u.Dialplan != "XML" || u.CallerIDName != "Web Desk" {
			t.Fatalf("xrtc_user %+v", u)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "1000@xswitch.cn", "passwd": "12345"})
		if r.Error == nil || r.Error.Code != verto.CodeAuthFailed {
			t.Fatalf("%+v", r.Error)
		}
	})
}

func TestTokenLogin(t *testing.T) {
	xui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["xui_sessid"] != "good-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"login": "1002@" + ctrltest.Domain, "caller_id_name": "Via XUI"})
	}))
	defer xui.Close()
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.XUIAuthURL = xui.URL })
	sign := func(claims map[string]any) string {
		tok, err := ctrl.SignJWT("test-secret", claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		login  string
		params map[string]any
		want   string // "" = refused
	}{
		{"jwt", "whatever", map[string]any{"xcc_token": sign(map[string]any{"login": "1001@" + ctrltest.Domain, "exp": exp})}, "1001@" + ctrltest.Domain},
		{"jwt cman claims", "", map[string]any{"xcc_token": sign(map[string]any{"user_id": "7777", "domain": "tenant.example", "expires": exp})}, "7777@tenant.example"},
		{"jwt expired", "", map[string]any{"xcc_token": sign(map[string]any{"login": "1001@" + ctrltest.Domain, "exp": time.Now().Add(-time.Hour).Unix()})}, ""},
		{"jwt no expiry", "", map[string]any{"xcc_token": sign(map[string]any{"login": "1001@" + ctrltest.Domain})}, ""},
		{"jwt other secret", "", map[string]any{"xcc_token": func() string {
			tok, _ := ctrl.SignJWT("other", map[string]any{"login": "1001@" + ctrltest.Domain, "exp": exp})
			return tok
		}()}, ""},
		{"xui", "1002@" + ctrltest.Domain, map[string]any{"xui_sessid": "good-token"}, "1002@" + ctrltest.Domain},
		{"xui refused", "1002@" + ctrltest.Domain, map[string]any{"xui_sessid": "bad"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.Dial(x)
			r := c.Call(verto.MethodLogin, map[string]any{"login": tc.login, "passwd": "x", "loginParams": tc.params})
			if tc.want == "" {
				if r.Error == nil || r.Error.Code != verto.CodeAuthFailed {
					t.Fatalf("accepted: %s", r.Result)
				}
				return
			}
			if r.Error != nil {
				t.Fatalf("refused: %+v", r.Error)
			}
			c.Expect(verto.MethodClientReady)
			if got := c.Call(verto.MethodPing, nil); got.Error != nil {
				t.Fatalf("ping after token login: %+v", got.Error)
			}
			// The login the node would see is the token's.
			users := x.SessidsOf(tc.want)
			if len(users) != 1 || users[0] != c.Sessid {
				t.Fatalf("sockets of %s: %v", tc.want, users)
			}
		})
	}
}

func TestSameSessidTakesOver(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	for _, tc := range []struct {
		name string
		to   *ctrl.Server
	}{{"same instance", x}, {"other instance", y}} {
		t.Run(tc.name, func(t *testing.T) {
			old := e.Login(x, "1003")
			again := e.DialSessid(tc.to, old.Sessid)
			again.Login("1003@"+ctrltest.Domain, ctrltest.Password, nil)
			old.Expect(verto.MethodPunt)
			old.Closed()
			if r := again.Call(verto.MethodPing, nil); r.Error != nil {
				t.Fatalf("new socket: %+v", r.Error)
			}
		})
	}
	for _, tc := range []struct {
		name string
		to   *ctrl.Server
	}{{"same instance", x}, {"other instance", y}} {
		t.Run("other user "+tc.name, func(t *testing.T) {
			owner := e.Login(x, "1004")
			thief := e.DialSessid(tc.to, owner.Sessid)
			r := thief.Call(verto.MethodLogin, map[string]any{"login": "1005@" + ctrltest.Domain, "passwd": ctrltest.Password})
			if r.Error == nil || r.Error.Code != verto.CodeAuthFailed || r.Error.Message != verto.MsgSessionInUse {
				t.Fatalf("got %+v", r.Error)
			}
			thief.Closed()
			if r := owner.Call(verto.MethodPing, nil); r.Error != nil {
				t.Fatalf("owner lost its socket: %+v", r.Error)
			}
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.LoginFailuresPerAddr = 3
		c.Limits.LoginFailuresPerUser = 100
	})
	y := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.LoginFailuresPerAddr = 100
		c.Limits.LoginFailuresPerUser = 2
	})
	fail := func(s *ctrl.Server, login string, n int) {
		c := e.Dial(s)
		for i := 0; i < n; i++ {
			if r := c.Call(verto.MethodLogin, map[string]any{"login": login, "passwd": "wrong"}); r.Error == nil {
				t.Fatal("wrong password accepted")
			}
		}
	}
	refused := func(s *ctrl.Server, user string) bool {
		r := e.Dial(s).Call(verto.MethodLogin, map[string]any{"login": user + "@" + ctrltest.Domain, "passwd": ctrltest.Password})
		return r.Error != nil
	}
	fail(x, "1006@"+ctrltest.Domain, 3)
	if !refused(x, "1007") {
		t.Fatal("address not throttled after 3 failures")
	}
	fail(y, "1008@"+ctrltest.Domain, 2)
	if !refused(y, "1008") {
		t.Fatal("user not throttled after 2 failures")
	}
	if refused(y, "1009") {
		t.Fatal("another user throttled")
	}
}

// TestLoginThrottleCountsAnIPv6Prefix: failed logins count per address as
// the socket gate counts them: an IPv6 client by its /64, which is one
// client's (it has every address in it), and an IPv4-mapped IPv6 address
// as its IPv4 address. Before, the throttle counted each address text: a
// client could try passwords without end by changing addresses in its /64.
func TestLoginThrottleCountsAnIPv6Prefix(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Limits.LoginFailuresPerAddr = 3
		c.Limits.LoginFailuresPerUser = 100
	})
	login := func(xff, login, passwd string) *verto.Message {
		c, err := ctrltest.DialHeader(e.Ctx, x.WSURL(), map[string]string{"X-Forwarded-For": xff})
		if err != nil {
			t.Fatal(err)
		}
		return e.Adopt(c).Call(verto.MethodLogin, map[string]any{"login": login, "passwd": passwd})
	}
	for i, xff := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		if r := login(xff, fmt.Sprintf("10%02d@%s", i, ctrltest.Domain), "wrong"); r.Error == nil {
			t.Fatal("wrong password accepted")
		}
	}
	// Right credentials: only the throttle refuses them.
	if r := login("2001:db8:1:2::99", "1005@"+ctrltest.Domain, ctrltest.Password); r.Error == nil {
		t.Fatal("another address of the /64 was not throttled after 3 failures in it")
	}
	if r := login("2001:db8:1:3::1", "1005@"+ctrltest.Domain, ctrltest.Password); r.Error != nil {
		t.Fatalf("the next /64 was throttled: %+v", r.Error)
	}
	for i := 0; i < 3; i++ {
		login("198.51.100.20", "1006@"+ctrltest.Domain, "wrong")
	}
	if r := login("::ffff:198.51.100.20", "1007@"+ctrltest.Domain, ctrltest.Password); r.Error == nil {
		t.Fatal("an IPv4 address written as IPv4-mapped IPv6 was not throttled with it")
	}
}

// TestLoginThrottleCountsAUserAsTheDirectory: failed logins count per user
// as the directory finds the user, not per login text: the domain's case,
// a login without a domain (the default domain), and any domain under
// force-register-domain all name one user. Before, each spelling had its
// own count, and a client could guess one user's password without end.
func TestLoginThrottleCountsAUserAsTheDirectory(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	cases := []struct {
		name     string
		config   func(*ctrl.Config)
		spelling []string // failed logins, each a new spelling of user
		user     string
	}{
		{"case and default domain", func(c *ctrl.Config) { c.DefaultDomain = ctrltest.Domain },
			[]string{"1000@" + strings.ToUpper(ctrltest.Domain), "1000"}, "1000"},
		{"force-register-domain", func(c *ctrl.Config) { c.ForceRegisterDomain = ctrltest.Domain },
			[]string{"1001@a.example.net", "1001@b.example.net"}, "1001"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := e.StartCtrl(func(c *ctrl.Config) {
				c.Limits.LoginFailuresPerAddr = 100
				c.Limits.LoginFailuresPerUser = 2
				tc.config(c)
			})
			for _, login := range tc.spelling {
				if r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": login, "passwd": "wrong"}); r.Error == nil {
					t.Fatalf("%s: wrong password accepted", login)
				}
			}
			r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": tc.user + "@" + ctrltest.Domain, "passwd": ctrltest.Password})
			if r.Error == nil {
				t.Fatalf("%s not throttled after %d failures under other spellings", tc.user, len(tc.spelling))
			}
		})
	}
}

// TestXUIChecksInFlightAreBounded: xui_sessid logins ask the XUI endpoint
// over HTTP; a login storm (every browser after a restart) or a client's
// sockets must not open a connection each: XCtrl would spend the file
// descriptors it keeps for NATS, and the endpoint would get them all at
// once. At most 64 checks are in flight; the others wait their turn.
func TestXUIChecksInFlightAreBounded(t *testing.T) {
	var active, peak atomic.Int64
	xui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		time.Sleep(100 * time.Millisecond)
		_ = json.NewEncoder(w).Encode(map[string]any{"login": body["login"]})
	}))
	defer xui.Close()
	e := ctrltest.New(t, ctrltest.Options{Timeout: time.Minute})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.XUIAuthURL = xui.URL
		c.Timers.Auth = 30 * time.Second
	})
	const logins = 3 * 64
	errs := make(chan error, logins)
	for i := 0; i < logins; i++ {
		b := e.Dial(x)
		go func() {
			_, _, err := b.Client.Login(e.Ctx, fmt.Sprintf("%d@%s", 1000+i%10, ctrltest.Domain), "", map[string]any{"xui_sessid": "t"})
			errs <- err
		}()
	}
	for i := 0; i < logins; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	if p := peak.Load(); p > 64 {
		t.Fatalf("%d xui_sessid checks in flight at once, want 64 at most", p)
	}
}

// TestXUIDownIsNotTheClientsFault: an XUI endpoint that cannot be reached
// refuses xui_sessid logins as Directory Unavailable, not as the client's
// failure: else every browser's address is throttled while XUI is down.
func TestXUIDownIsNotTheClientsFault(t *testing.T) {
	for _, name := range []string{"unreachable", "503"} {
		t.Run(name, func(t *testing.T) {
			e := ctrltest.New(t, ctrltest.Options{})
			xui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
			}))
			t.Cleanup(xui.Close) // before the env's leak check
			url := xui.URL
			if name == "unreachable" {
				xui.Close() // nothing listens there now
			}
			x := e.StartCtrl(func(c *ctrl.Config) {
				c.XUIAuthURL = url
				c.Limits.LoginFailuresPerAddr = 2
			})
			c := e.Dial(x)
			for i := 0; i < 4; i++ {
				r := c.Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "loginParams": map[string]any{"xui_sessid": "t"}})
				if r.Error == nil || r.Error.Message != verto.MsgDirectoryUnavailable {
					t.Fatalf("login %d: %+v", i, r.Error)
				}
			}
			// Not throttled: a password login from the same address goes in.
			c.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
		})
	}
}
