package ctrl

import (
	"context"
	"errors"
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
