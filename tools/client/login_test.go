package client

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

func TestLogin(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(*Options)
		wantErr int // JSON-RPC code, 0 for success
		check   func(t *testing.T, login vertotest.Received)
	}{
		{
			name: "password",
			check: func(t *testing.T, r vertotest.Received) {
				if r.Params["passwd"] != testPasswd {
					t.Errorf("passwd = %v", r.Params["passwd"])
				}
			},
		},
		{
			name: "xcc_token",
			opts: func(o *Options) { o.Passwd, o.XCCToken = "", "tok-1" },
			check: func(t *testing.T, r vertotest.Received) {
				lp, _ := r.Params["loginParams"].(map[string]any)
				if lp["xcc_token"] != "tok-1" || r.Params["passwd"] != "x" {
					t.Errorf("login params %v", r.Params)
				}
			},
		},
		{
			name: "xui_sessid",
			opts: func(o *Options) { o.Passwd, o.XUISessid = "", "xui-1" },
			check: func(t *testing.T, r vertotest.Received) {
				lp, _ := r.Params["loginParams"].(map[string]any)
				if lp["xui_sessid"] != "xui-1" {
					t.Errorf("login params %v", r.Params)
				}
			},
		},
		{name: "wrong password", opts: func(o *Options) { o.Passwd = "nope" }, wantErr: verto.CodeAuthFailed},
		{name: "wrong token", opts: func(o *Options) { o.Passwd, o.XCCToken = "", "forged" }, wantErr: verto.CodeAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := start(t, 20*time.Second)
			srv := newServer(t, vertotest.Config{
				XCCTokens:  map[string]string{"tok-1": testUser},
				XUISessids: map[string]string{"xui-1": testUser},
			})
			o := testOptions(srv.URL())
			if tt.opts != nil {
				tt.opts(&o)
			}
			c, err := Dial(ctx, o)
			if tt.wantErr != 0 {
				var le *LoginError
				if !errors.As(err, &le) || le.Err.Code != tt.wantErr {
					t.Fatalf("Dial error = %v, want login error %d", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			msgs := srv.Messages()
			// verto.js: login with only the sessid first, then credentials
			if len(msgs) < 2 || msgs[0].Msg.Method != "login" || msgs[1].Msg.Method != "login" {
				t.Fatalf("first messages %v", methods(msgs))
			}
			if len(msgs[0].Params) != 1 || msgs[0].Params["sessid"] != c.Sessid() {
				t.Errorf("first login params %v", msgs[0].Params)
			}
			if id, _ := msgs[0].Msg.ID.Int(); id != 1 {
				t.Errorf("first id %v, want 1", msgs[0].Msg.ID)
			}
			if id, _ := msgs[1].Msg.ID.Int(); id != 2 {
				t.Errorf("second id %v, want 2", msgs[1].Msg.ID)
			}
			if msgs[1].Params["login"] != testUser || msgs[1].Params["sessid"] != c.Sessid() {
				t.Errorf("credentials login %v", msgs[1].Params)
			}
			if tt.check != nil {
				tt.check(t, msgs[1])
			}
			if got := c.LoginResult().Message; got != "logged in" {
				t.Errorf("login result %q", got)
			}
		})
	}
}

func methods(rs []vertotest.Received) []string {
	var out []string
	for _, r := range rs {
		m := r.Msg.Method
		if m == "" {
			m = "result"
		}
		out = append(out, m)
	}
	return out
}

// A -32000 on any request makes the client log in again and resend it.
func TestReloginOnAuthRequired(t *testing.T) {
	ctx := start(t, 20*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	srv.ForgetAuth(c.Sessid())
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping after the server forgot the login: %v", err)
	}
	var got []string
	for _, r := range srv.Messages() {
		if r.Msg.Method != "" {
			got = append(got, r.Msg.Method)
		}
	}
	want := "login login verto.ping login verto.ping"
	if strings.Join(got, " ") != want {
		t.Errorf("requests %q, want %q", strings.Join(got, " "), want)
	}
}

func TestSessidFile(t *testing.T) {
	ctx := start(t, 20*time.Second)
	srv := newServer(t, vertotest.Config{})
	path := filepath.Join(t.TempDir(), "sub", "sessid")
	o := testOptions(srv.URL())
	o.SessidFile = path
	c1 := dial(t, ctx, o)
	first := c1.Sessid()
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(b)) != first {
		t.Fatalf("sessid file %q, %v; want %q", b, err, first)
	}
	c2 := dial(t, ctx, o)
	if c2.Sessid() != first {
		t.Errorf("second run sessid %q, want %q", c2.Sessid(), first)
	}
	o.Sessid = "fixed-sessid"
	c3 := dial(t, ctx, o)
	if c3.Sessid() != "fixed-sessid" {
		t.Errorf("explicit sessid ignored: %q", c3.Sessid())
	}
}

func TestPunt(t *testing.T) {
	ctx := start(t, 20*time.Second)
	srv := newServer(t, vertotest.Config{})
	ev := &events{}
	o := testOptions(srv.URL())
	o.OnEvent = ev.add
	c := dial(t, ctx, o)
	call, err := c.Call(ctx, "echo", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Punt(c.Sessid()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client not done after verto.punt")
	}
	if !errors.Is(c.Err(), ErrPunted) {
		t.Errorf("Err = %v, want ErrPunted", c.Err())
	}
	if r := call.Report(); r.EndedBy != EndedByPunt {
		t.Errorf("call ended by %q", r.EndedBy)
	}
	if !ev.has(EventPunt) {
		t.Error("no punt event")
	}
	// no ack for verto.punt
	for _, r := range srv.Messages() {
		if r.Msg.Kind() == verto.KindResult && strings.Contains(string(r.Msg.Result), verto.MethodPunt) {
			t.Errorf("punt acknowledged: %s", r.Msg.Result)
		}
	}
}

// Logging in with the same sessid elsewhere punts the first socket.
func TestSameSessidElsewherePunts(t *testing.T) {
	ctx := start(t, 20*time.Second)
	srv := newServer(t, vertotest.Config{})
	o := testOptions(srv.URL())
	c1 := dial(t, ctx, o)
	o.Sessid = c1.Sessid()
	c2 := dial(t, ctx, o)
	select {
	case <-c1.Done():
	case <-ctx.Done():
		t.Fatal("first client not punted")
	}
	if !errors.Is(c1.Err(), ErrPunted) {
		t.Errorf("first client Err = %v", c1.Err())
	}
	if err := c2.Ping(ctx); err != nil {
		t.Errorf("second client: %v", err)
	}
}

func TestServerPing(t *testing.T) {
	ctx := start(t, 20*time.Second)
	srv := newServer(t, vertotest.Config{})
	ev := &events{}
	o := testOptions(srv.URL())
	o.OnEvent = ev.add
	c := dial(t, ctx, o)
	if err := srv.Ping(c.Sessid()); err != nil {
		t.Fatal(err)
	}
	if err := ev.wait(ctx, EventPing); err != nil {
		t.Fatal(err)
	}
	// the client is still usable, and sent no reply to the ping
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.Messages() {
		if r.Msg.Kind() == verto.KindResult {
			t.Errorf("unexpected reply %s", r.Msg.Result)
		}
	}
}

func TestDialErrors(t *testing.T) {
	ctx := start(t, 10*time.Second)
	if _, err := Dial(ctx, Options{URL: "http://x"}); err == nil {
		t.Error("http:// accepted")
	}
	if _, err := Dial(ctx, Options{}); err == nil {
		t.Error("empty URL accepted")
	}
	if _, err := Dial(ctx, Options{URL: "ws://127.0.0.1:1"}); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}
