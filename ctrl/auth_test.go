package ctrl

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"xccrtc/conf"
	"xccrtc/verto"
)

func TestJWT(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := NewJWTVerifier("s3cret")
	sign := func(secret string, c any) string {
		tok, err := SignJWT(secret, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign("s3cret", map[string]any{"login": "1000@d", "exp": now.Add(time.Hour).Unix()})
	for _, tc := range []struct {
		name string
		tok  string
		err  error
	}{
		{"good", good, nil},
		{"expired", sign("s3cret", map[string]any{"login": "a@d", "exp": now.Add(-time.Hour).Unix()}), ErrTokenExpired},
		{"not yet", sign("s3cret", map[string]any{"login": "a@d", "exp": now.Add(2 * time.Hour).Unix(), "nbf": now.Add(time.Hour).Unix()}), ErrTokenExpired},
		{"no expiry", sign("s3cret", map[string]any{"login": "a@d"}), ErrTokenNoExpiry},
		{"other secret", sign("x", map[string]any{"login": "a@d", "exp": now.Add(time.Hour).Unix()}), ErrTokenSignature},
		{"alg none", "eyJhbGciOiJub25lIn0." + strings.Split(good, ".")[1] + ".", ErrTokenAlg},
		{"two parts", "a.b", ErrTokenMalformed},
		{"garbage", "!!.!!.!!", ErrTokenMalformed},
		{"tampered", strings.Split(good, ".")[0] + ".eyJsb2dpbiI6InJvb3RAZCIsImV4cCI6OTk5OTk5OTk5OX0." + strings.Split(good, ".")[2], ErrTokenSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.tok, now)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && c.LoginName() != "1000@d" {
				t.Fatalf("login %q", c.LoginName())
			}
		})
	}
}

func TestAuthPrecedence(t *testing.T) {
	users := MapStore{}
	users.Add("1000", "d", "pw", map[string]string{"jsonrpc-allowed-methods": "verto", "verto-context": "ctx"})
	users["1001@d"] = &conf.User{ID: "1001", Domain: "d", Params: []conf.Pair{{Name: "a1-hash", Value: conf.A1Hash("1001", "d", "pw")}}}
	now := time.Now()
	a := &Auth{Users: users, DefaultDomain: "d", JWT: NewJWTVerifier("k"), Now: func() time.Time { return now }}
	tok, _ := SignJWT("k", map[string]any{"login": "1000@d", "exp": now.Add(time.Minute).Unix()})
	for _, tc := range []struct {
		name  string
		p     verto.LoginParams
		login string
		code  int
	}{
		{"password", verto.LoginParams{Login: "1000@d", Passwd: "pw"}, "1000@d", 0},
		{"default domain", verto.LoginParams{Login: "1000", Passwd: "pw"}, "1000@d", 0},
		{"a1-hash", verto.LoginParams{Login: "1001@d", Passwd: "pw"}, "1001@d", 0},
		{"token wins over a wrong password", verto.LoginParams{Login: "1001@d", Passwd: "wrong",
			LoginParams: map[string]any{"xcc_token": tok}}, "1000@d", 0},
		{"no login", verto.LoginParams{}, "", verto.CodeAuthRequired},
		{"wrong", verto.LoginParams{Login: "1000@d", Passwd: "x"}, "", verto.CodeAuthFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Authenticate(context.Background(), &tc.p)
			if tc.code != 0 {
				if err == nil || err.Code != tc.code {
					t.Fatalf("got %+v %+v", id, err)
				}
				return
			}
			if err != nil || id.User.Login != tc.login {
				t.Fatalf("got %+v %+v", id, err)
			}
		})
	}
	id, _ := a.Authenticate(context.Background(), &verto.LoginParams{Login: "1000@d", Passwd: "pw"})
	if id.User.Context != "ctx" || id.MethodAllowed("echo") || !id.MethodAllowed("verto.invite") || !id.MethodAllowed("login") {
		t.Fatalf("identity %+v", id)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Now()
	th := NewThrottle(2, time.Minute)
	th.Fail("a", now)
	if th.Blocked("a", now) {
		t.Fatal("blocked after 1")
	}
	th.Fail("a", now)
	if !th.Blocked("a", now) || th.Blocked("b", now) {
		t.Fatal("block")
	}
	if th.Blocked("a", now.Add(time.Minute)) {
		t.Fatal("still blocked after the window")
	}
	var r rateLimiter
	n := now.UnixNano()
	allowed := 0
	for i := 0; i < 10; i++ {
		if r.allow(1, 1, 3, n) {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("burst 3 allowed %d", allowed)
	}
	if !r.allow(1, 1, 3, n+int64(time.Second)) {
		t.Fatal("no refill")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{WSListen: "127.0.0.1:0"}.Defaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no listener", func(c *Config) { c.WSListen = "" }},
		{"bad listen", func(c *Config) { c.WSListen = "nonsense" }},
		{"wss without cert", func(c *Config) { c.WSSListen = "127.0.0.1:0" }},
		{"bad xui url", func(c *Config) { c.XUIAuthURL = "ftp://x" }},
		{"ctrl uuid with a dot", func(c *Config) { c.CtrlUUID = "a.b" }},
		{"tiny frames", func(c *Config) { c.Limits.MaxFrameBytes = 10 }},
		{"user data burst below a frame", func(c *Config) { c.Limits.UserBytesBurst = c.Limits.MaxFrameBytes - 1 }},
		{"refresh after ttl", func(c *Config) { c.Timers.RegistryRefresh = 2 * c.Timers.RegistryTTL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			if err := c.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("accepted: %v", err)
			}
		})
	}
}

func TestSplitLogin(t *testing.T) {
	for _, tc := range []struct {
		a            Auth
		login        string
		user, domain string
	}{
		{Auth{}, "1000@d", "1000", "d"},
		{Auth{}, "1000@a@b", "1000", "a@b"}, // mod_verto chops at the first @
		{Auth{}, "1000", "1000", ""},
		{Auth{DefaultDomain: "dd"}, "1000", "1000", "dd"},
		{Auth{DefaultDomain: "dd", ForceRegisterDomain: "f"}, "1000@x", "1000", "f"},
		{Auth{ForceRegisterDomain: "f"}, "1000", "1000", "f"},
	} {
		if u, d := tc.a.split(tc.login); u != tc.user || d != tc.domain {
			t.Errorf("%+v %q: %q %q", tc.a, tc.login, u, d)
		}
	}
}

func TestAPIPermissions(t *testing.T) {
	id := &Identity{AllowedFSAPI: []string{"status", "bgapi", "expand"}, AllowedJSAPI: []string{"fsapi", "fsv.status"}}
	for _, tc := range []struct {
		cmd, arg string
		ok       bool
	}{
		{"status", "", true},
		{"STATUS", "", true},
		{"originate", "", false},
		{"bgapi", "status", true},
		{"bgapi", "originate user/1000 &park", false},
		{"bgapi", "expand status", true},
		{"bgapi", "expand originate x", false},
		{"bgapi", "", true},
	} {
		if got := id.FSAPIAllowed(tc.cmd, tc.arg); got != tc.ok {
			t.Errorf("fsapi %q %q: %v", tc.cmd, tc.arg, got)
		}
	}
	obj := func(s string) *verto.Object {
		o, err := verto.ParseObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for s, ok := range map[string]bool{
		`{"command":"fsv.status"}`: true,
		`{"command":"other"}`:      false,
		`{}`:                       true, // mod_verto checks only a command it is given
		`{"command":"fsapi","data":{"cmd":"status"}}`:                  true,
		`{"command":"fsapi","data":{"cmd":"bgapi","arg":"originate"}}`: false,
	} {
		if got := id.JSAPIAllowed(obj(s)); got != ok {
			t.Errorf("jsapi %s: %v", s, got)
		}
	}
	if !(&Identity{}).FSAPIAllowed("anything", "") {
		t.Error("no list: everything")
	}
}

func TestClientAddr(t *testing.T) {
	ps, err := parseProxies([]string{"10.0.0.0/8", "192.0.2.1", " "})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseProxies([]string{"nonsense"}); err == nil {
		t.Error("a bad proxy accepted")
	}
	for _, tc := range []struct {
		remote string
		hdr    map[string][]string
		addr   string
		port   int
	}{
		{"203.0.113.1:5000", nil, "203.0.113.1", 5000},
		{"203.0.113.1:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "203.0.113.1", 5000},
		{"10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "1.2.3.4", 0},
		{"10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"6.6.6.6, 1.2.3.4, 10.9.9.9"}}, "1.2.3.4", 0},
		{"10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"6.6.6.6", "1.2.3.4:777"}}, "1.2.3.4", 0},
		{"10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"10.2.2.2, 10.3.3.3"}}, "10.2.2.2", 0},
		{"10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"garbage"}, "X-Real-Ip": {"5.5.5.5"}}, "5.5.5.5", 0},
		{"10.1.1.1:5000", map[string][]string{"X-Forwarded-For": {"[2001:db8::1]:443"}}, "2001:db8::1", 0},
		{"[::ffff:192.0.2.1]:5000", map[string][]string{"X-Real-Ip": {"7.7.7.7"}}, "7.7.7.7", 0},
		{"10.1.1.1:5000", nil, "10.1.1.1", 5000},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header(tc.hdr)}
		if addr, port := ps.clientAddr(r); addr != tc.addr || port != tc.port {
			t.Errorf("%s %v: %s %d", tc.remote, tc.hdr, addr, port)
		}
	}
}

func TestMapStoreUsers(t *testing.T) {
	m := MapStore{}
	m.Add("1000", "D", "pw", nil)
	for _, tc := range []struct {
		q   UserQuery
		err error
	}{
		{UserQuery{ID: "1000", Domain: "d", Password: "pw"}, nil},
		{UserQuery{ID: "1000", Domain: "d"}, nil},
		{UserQuery{ID: "1000", Domain: "d", Password: "x"}, ErrBadPassword},
		{UserQuery{ID: "1001", Domain: "d", Password: "pw"}, ErrUnknownUser},
	} {
		if _, err := m.LookupUser(context.Background(), tc.q); !errors.Is(err, tc.err) {
			t.Errorf("%+v: %v", tc.q, err)
		}
	}
}
