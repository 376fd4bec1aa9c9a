package ctrl_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/conf"
	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/module/testhost"
	"xccrtc/verto"
)

// fsconf is the test configuration in FreeSWITCH's layout; its domain is
// $${local_ip_v4}, fixed to 127.0.0.1 by fsVars.
const fsconf = "../testdata/fsconf"

var fsVars = map[string]string{"local_ip_v4": "127.0.0.1"}

// assertedUser is params.xrtc_user as a node receives it.
type assertedUser struct {
	verto.User
	AllowedEventChannels *[]string `json:"allowed_event_channels"`
	AllowedJSAPI         *[]string `json:"allowed_jsapi"`
	AllowedFSAPI         *[]string `json:"allowed_fsapi"`
}

// loginAndCall logs login in with the client's userVariables, places a call
// and returns what the node receives as xrtc_user.
func loginAndCall(t *testing.T, e *ctrltest.Env, x *ctrl.Server, n *fakenode.Node, login, passwd string) assertedUser {
	t.Helper()
	c := e.Dial(x)
	r := c.Call(verto.MethodLogin, map[string]any{"login": login, "passwd": passwd, "sessid": c.Sessid,
		"userVariables": map[string]any{"browser": "test", "toll_allow": "everything"}})
	if r.Error != nil {
		t.Fatalf("%s: login: %+v", login, r.Error)
	}
	c.Expect(verto.MethodClientReady)
	callID := "call-" + strings.ReplaceAll(login, "@", "-")
	c.Reply(c.Invite(callID, "9196", nil))
	got, err := n.Wait(e.Ctx, verto.MethodInvite, func(r fakenode.Received) bool {
		var dp struct {
			DialogParams struct {
				CallID string `json:"callID"`
			} `json:"dialogParams"`
		}
		return json.Unmarshal(r.Params, &dp) == nil && dp.DialogParams.CallID == callID
	})
	if err != nil {
		t.Fatal(err)
	}
	var u assertedUser
	if !got.Param("xrtc_user", &u) {
		t.Fatalf("%s: no xrtc_user in %s", login, got.Params)
	}
	return u
}

// TestFSConfLogins: XCtrl reads FreeSWITCH's configuration folder; every
// user placement logs in, and the node receives the directory's variables
// and the client's userVariables as two sets, and the client's address.
func TestFSConfLogins(t *testing.T) {
	t.Setenv("XRTC_TEST_ENV_PASSWORD", "from-env")
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.FSConfDir, c.FSVars = fsconf, fsVars })
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	for _, tc := range []struct {
		login, passwd    string
		context, caller  string
		vars             map[string]string
		channels         []string // nil: absent (no restriction)
		channelsRestrict bool
	}{
		{"1000@127.0.0.1", "1234", "default", "", map[string]string{"toll_allow": "domestic,international,local", "record_stereo": "true", "accountcode": "1000"},
			[]string{"demo", "conference", "presence"}, true},
		{"8001@127.0.0.1", "1234", "default", "Front Desk", map[string]string{"accountcode": "1001"}, []string{"demo", "conference", "presence"}, true},
		{"1002@127.0.0.1", "1234", "default", "", map[string]string{"record_stereo": "true"}, []string{"demo", "conference", "presence"}, true},
		{"1003@127.0.0.1", "from-env", "default", "", map[string]string{"user_context": "default"}, []string{"demo", "conference", "presence"}, true},
		{"alice@127.0.0.1", "wonderland", "support", "", map[string]string{"callgroup": "support", "accountcode": "alice"}, []string{"demo", "conference", "presence"}, true},
		{"bob@example.org", "builder", "example", "", map[string]string{"moderator": "true"}, []string{}, true},
		{"300@example.org", "sales.127.0.0.1", "example", "", map[string]string{"user_context": "example"}, []string{}, true},
		{"dave@users.example", "dave-pw", "", "", nil, []string{}, true},
	} {
		t.Run(tc.login, func(t *testing.T) {
			u := loginAndCall(t, e, x, n, tc.login, tc.passwd)
			id, _, _ := strings.Cut(tc.login, "@")
			if u.Login != tc.login || u.ID != id || u.Context != tc.context || u.CallerIDName != tc.caller {
				t.Errorf("identity %+v", u.User)
			}
			for k, v := range tc.vars {
				if u.Variables[k] != v {
					t.Errorf("directory variable %s = %q, want %q", k, u.Variables[k], v)
				}
			}
			if u.UserVariables["browser"] != "test" || u.UserVariables["toll_allow"] != "everything" {
				t.Errorf("client userVariables %v", u.UserVariables)
			}
			if u.ClientAddress != "127.0.0.1" || u.ClientPort == 0 {
				t.Errorf("client address %q port %d", u.ClientAddress, u.ClientPort)
			}
			if (u.AllowedEventChannels != nil) != tc.channelsRestrict || (u.AllowedEventChannels != nil && !slices.Equal(*u.AllowedEventChannels, tc.channels)) {
				t.Errorf("allowed_event_channels %v", u.AllowedEventChannels)
			}
			// jsapi and fsapi lists, unset in this directory but for the
			// support group's jsapi: [] (nothing), for the node to check.
			jsapi := []string{}
			if strings.HasPrefix(tc.login, "alice@") {
				jsapi = []string{"fsv.status"}
			}
			if u.AllowedJSAPI == nil || !slices.Equal(*u.AllowedJSAPI, jsapi) || u.AllowedFSAPI == nil || len(*u.AllowedFSAPI) != 0 {
				t.Errorf("allowed_jsapi %v, allowed_fsapi %v", u.AllowedJSAPI, u.AllowedFSAPI)
			}
		})
	}
	for _, bad := range [][2]string{{"1000@127.0.0.1", "4321"}, {"1003@127.0.0.1", "sip-only"}, {"nobody@127.0.0.1", "1234"}, {"1000@example.org", "1234"}} {
		r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": bad[0], "passwd": bad[1]})
		if r.Error == nil || r.Error.Code != verto.CodeAuthFailed || r.Error.Message != verto.MsgAuthFailure {
			t.Errorf("%s/%s: %+v", bad[0], bad[1], r.Error)
		}
	}
}

// TestModVertoProfileFlags: force-register-domain and blind-reg as
// mod_verto means them.
func TestModVertoProfileFlags(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.FSConfDir, c.FSVars, c.ForceRegisterDomain, c.BlindReg = fsconf, fsVars, "127.0.0.1", true
	})
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	// The login's domain is replaced; the id is what comes before the first @.
	if u := loginAndCall(t, e, x, n, "1000@somewhere.else", "1234"); u.Login != "1000@127.0.0.1" || u.Variables["accountcode"] != "1000" {
		t.Errorf("forced domain: %+v", u.User)
	}
	// blind-reg: a user the directory does not know gets in, without data
	// or restrictions...
	if u := loginAndCall(t, e, x, n, "stranger", "anything"); u.Login != "stranger@127.0.0.1" || u.Variables != nil || u.AllowedEventChannels != nil {
		t.Errorf("blind-reg: %+v", u)
	}
	// ...but a user it knows needs its password.
	if r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "1000", "passwd": "wrong"}); r.Error == nil {
		t.Error("blind-reg let a known user in with a wrong password")
	}
}

// copyTree copies a fixture folder so that a test may change it.
func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// TestReloadUsers: a reload reads the files again; a broken file keeps the
// old users (and says where it is broken); logged-in sockets stay.
func TestReloadUsers(t *testing.T) {
	dir := copyTree(t, fsconf)
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.FSConfDir, c.FSVars = dir, fsVars })
	login := func(user, pw string) *verto.Message {
		return e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": user + "@127.0.0.1", "passwd": pw})
	}
	kept := e.Dial(x)
	kept.Login("1000@127.0.0.1", "1234", nil)

	file := filepath.Join(dir, "directory", "default", "1000.xml")
	b, _ := os.ReadFile(file)
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), "$${default_password}", "5678", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := x.ReloadUsers(); err != nil {
		t.Fatal(err)
	}
	if r := login("1000", "5678"); r.Error != nil {
		t.Fatalf("new password: %+v", r.Error)
	}
	if r := login("1000", "1234"); r.Error == nil {
		t.Fatal("old password still accepted")
	}

	broken := filepath.Join(dir, "directory", "default", "1001.xml")
	if err := os.WriteFile(broken, []byte("<include>\n  <user id=\"1001\">\n  </usr>\n</include>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := x.ReloadUsers()
	if err == nil || !strings.Contains(err.Error(), "1001.xml:3") {
		t.Fatalf("broken file: %v", err)
	}
	if r := login("1001", "1234"); r.Error != nil {
		t.Fatalf("the old users must stay: %+v", r.Error)
	}
	if r := login("1000", "5678"); r.Error != nil {
		t.Fatalf("the old users must stay: %+v", r.Error)
	}
	if r := kept.Call(verto.MethodPing, nil); r.Error != nil {
		t.Fatalf("a logged-in socket dropped by a reload: %+v", r.Error)
	}
}

// startUserNode starts a test-host node that answers user lookups from the
// test configuration, plus users only it knows.
func startUserNode(t *testing.T, e *ctrltest.Env, uuid string) *testhost.Node {
	t.Helper()
	dir, err := conf.LoadFreeSWITCH(fsconf, conf.DirectoryOptions{Vars: fsVars, Getenv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	only := testhost.Users{}
	only.Add("ghost", "127.0.0.1", "boo", conf.ParamAllowedMethods, "verto").Variables["user_context"] = "haunted"
	node, err := testhost.Start(e.Ctx, testhost.Options{NATSURL: e.NATS.ClientURL(), NodeUUID: uuid, Log: ctrltest.Logger(t),
		Directory: both{dir, only}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close(e.Ctx) })
	e.WaitNode(uuid, true)
	return node
}

// both looks in a, then b.
type both [2]testhost.UserDirectory

func (d both) Lookup(id, domain string) (*conf.User, bool) {
	if u, ok := d[0].Lookup(id, domain); ok {
		return u, ok
	}
	return d[1].Lookup(id, domain)
}

// TestAskFreeSWITCH: with --user-lookup node, a node looks users up with
// the switch's own directory: users only it knows log in, their data
// reaches the call; failures are clear and quick.
func TestAskFreeSWITCH(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{Timeout: 30 * time.Second})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.UserLookup = ctrl.UserLookupNode
		c.Timers.UserLookup = 2 * time.Second
		c.Timers.UserCache = time.Minute
	})
	unavailable := func(what string, r *verto.Message) {
		t.Helper()
		if r.Error == nil || r.Error.Code != verto.CodeAuthFailed || r.Error.Message != verto.MsgDirectoryUnavailable {
			t.Fatalf("%s: %+v", what, r.Error)
		}
	}
	// No node up: a clear answer at once.
	start := time.Now()
	unavailable("no node", e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "ghost@127.0.0.1", "passwd": "boo"}))
	if d := time.Since(start); d > time.Second {
		t.Errorf("no node took %v", d)
	}

	node := startUserNode(t, e, "fs1")
	c := e.Dial(x)
	c.Login("ghost@127.0.0.1", "boo", nil)
	for _, bad := range [][2]string{{"ghost@127.0.0.1", "bah"}, {"nobody@127.0.0.1", "boo"}} {
		if r := e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": bad[0], "passwd": bad[1]}); r.Error == nil || r.Error.Message != verto.MsgAuthFailure {
			t.Errorf("%s: %+v", bad[0], r.Error)
		}
	}
	// A token login of a directory user: its data comes from the node, and
	// stays cached (without credentials) for a while.
	tok, _ := ctrl.SignJWT("test-secret", map[string]any{"login": "alice@127.0.0.1", "exp": time.Now().Add(time.Hour).Unix()})
	tc := e.Dial(x)
	tc.Login("", "", map[string]any{"xcc_token": tok})
	pc := e.Dial(x)
	pc.Login("alice@127.0.0.1", "wonderland", nil)

	// The node goes; calls go to another (which cannot look users up).
	if err := node.Close(e.Ctx); err != nil {
		t.Fatal(err)
	}
	e.WaitNode("fs1", false)
	fn := e.StartNode(fakenode.Options{UUID: "n2"})
	c.Reply(c.Invite("ghost-call", "9196", nil))
	got, err := fn.Wait(e.Ctx, verto.MethodInvite, nil)
	if err != nil {
		t.Fatal(err)
	}
	var u assertedUser
	got.Param("xrtc_user", &u)
	if u.Login != "ghost@127.0.0.1" || u.Variables["user_context"] != "haunted" || u.Context != "haunted" {
		t.Fatalf("xrtc_user %+v", u.User)
	}
	// The cached answer serves a token login; a password is never cached.
	e.Dial(x).Login("", "", map[string]any{"xcc_token": tok})
	unavailable("node without lookup", e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "alice@127.0.0.1", "passwd": "wonderland"}))
	if err := x.ReloadUsers(); err != nil {
		t.Fatal(err)
	}
	unavailable("token login after the cache was dropped", e.Dial(x).Call(verto.MethodLogin, map[string]any{"loginParams": map[string]any{"xcc_token": tok}}))

	// A node that never answers: the login fails after the lookup timeout.
	fn.Close()
	e.WaitNode("n2", false)
	nc, err := nats.Connect(e.NATS.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.QueueSubscribe(verto.Subjects{}.AnyNode(), "xnode", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	reg, _ := verto.NewNotification(verto.MethodNodeRegister, verto.Node{UUID: "silent"})
	b, _ := reg.Marshal()
	if err := nc.Publish(verto.Subjects{}.Status(), b); err != nil {
		t.Fatal(err)
	}
	e.WaitNode("silent", true)
	start = time.Now()
	unavailable("silent node", e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "ghost@127.0.0.1", "passwd": "boo"}))
	if d := time.Since(start); d < 2*time.Second || d > 5*time.Second {
		t.Errorf("the lookup timeout is 2 s; the login took %v", d)
	}
}

// TestTrustedProxy: the client's address comes from X-Forwarded-For only
// through a trusted proxy.
func TestTrustedProxy(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	trusting := e.StartCtrl(func(c *ctrl.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
	plain := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	for i, tc := range []struct {
		x    *ctrl.Server
		hdr  map[string]string
		addr string
		port bool
	}{
		{trusting, map[string]string{"X-Forwarded-For": "203.0.113.7, 127.0.0.2"}, "203.0.113.7", false},
		{trusting, map[string]string{"X-Real-IP": "198.51.100.9"}, "198.51.100.9", false},
		{trusting, nil, "127.0.0.1", true},
		{plain, map[string]string{"X-Forwarded-For": "203.0.113.7"}, "127.0.0.1", true},
	} {
		c, err := ctrltest.DialHeader(e.Ctx, tc.x.WSURL(), tc.hdr)
		if err != nil {
			t.Fatal(err)
		}
		b := e.Adopt(c)
		b.Login(fmt.Sprintf("100%d@%s", i, ctrltest.Domain), ctrltest.Password, nil)
		callID := fmt.Sprintf("proxy-%d", i)
		b.Reply(b.Invite(callID, "9196", nil))
		got, err := n.Wait(e.Ctx, verto.MethodInvite, func(r fakenode.Received) bool { return strings.Contains(string(r.Params), callID) })
		if err != nil {
			t.Fatal(err)
		}
		var u verto.User
		got.Param("xrtc_user", &u)
		if u.ClientAddress != tc.addr || (u.ClientPort != 0) != tc.port {
			t.Errorf("%d: address %q port %d, want %q", i, u.ClientAddress, u.ClientPort, tc.addr)
		}
	}
}
