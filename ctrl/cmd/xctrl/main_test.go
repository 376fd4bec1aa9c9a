package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xccrtc/conf"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/verto"
)

func TestHelpExplainsEveryFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"ws-listen", "wss-listen", "cert", "key", "directory", "nats", "nats-listen", "ctrl-uuid",
		"metrics-listen", "jwt-secret", "xui-auth-url", "config", "fs-conf", "fs-var", "user-lookup", "user-lookup-timeout",
		"blind-reg", "force-register-domain", "trusted-proxy"} {
		if !strings.Contains(errb.String(), "-"+f) {
			t.Errorf("--help lacks --%s", f)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "x.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var o options
	flags(fs, &o)
	if err := fs.Parse([]string{"--ws-listen", "127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	p := write(`{"ws-listen":"0.0.0.0:1","nats":["nats://a:4222","nats://b:4222"],"rate":7,"enable-jsapi":true,"invite-rate-per-user":-1,"invite-burst-per-user":3,"max-sockets-per-user":9,"max-queued-total":3,"login-rate-per-user":2,"login-burst-per-user":4,"user-rate":-1,"user-rate-burst":6,"max-subscriptions":7,"max-subscriptions-per-user":8,"max-calls-per-user":-1,"socket-send-buffer":32,"user-data-rate":-1,"user-data-burst":512}`)
	if err := applyConfigFile(fs, p); err != nil {
		t.Fatal(err)
	}
	c := o.config2()
	if c.WSListen != "127.0.0.1:9" || len(c.NATSURLs) != 2 || c.Limits.RatePerSec != 7 || !c.EnableJSAPI ||
		c.Limits.InviteRatePerUser != -1 || c.Limits.InviteBurstPerUser != 3 || c.Limits.MaxSocketsPerUser != 9 ||
		c.Limits.MaxQueuedTotal != 3<<20 || c.Limits.LoginRatePerUser != 2 || c.Limits.LoginBurstPerUser != 4 ||
		c.Limits.UserRatePerSec != -1 || c.Limits.UserRateBurst != 6 || c.Limits.UserBytesPerSec != -1 || c.Limits.UserBytesBurst != 512<<10 ||
		c.Limits.MaxSubscriptions != 7 || c.Limits.MaxSubscriptionsPerUser != 8 || c.Limits.MaxCallsPerUser != -1 || c.Limits.SocketSendBuffer != 32<<10 {
		t.Fatalf("config %+v", c)
	}
	if err := applyConfigFile(fs, write(`{"no-such-flag":1}`)); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--wss-listen", "127.0.0.1:0"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "cert") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestRepeatableFlags(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	if err := os.WriteFile(p, []byte(`{"fs-var":["a=1,2","b=x=y"],"trusted-proxy":["10.0.0.0/8","192.0.2.1"],"blind-reg":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var o options
	flags(fs, &o)
	if err := fs.Parse([]string{"--fs-var", "c=3", "--trusted-proxy", "127.0.0.1,::1"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfigFile(fs, p); err != nil {
		t.Fatal(err)
	}
	c := o.config2()
	if c.FSVars["c"] != "3" || len(c.FSVars) != 1 || len(c.TrustedProxies) != 2 || !c.BlindReg {
		t.Fatalf("command line wins: %+v %v", c.FSVars, c.TrustedProxies)
	}
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	o = options{}
	flags(fs, &o)
	if err := applyConfigFile(fs, p); err != nil {
		t.Fatal(err)
	}
	c = o.config2()
	if c.FSVars["a"] != "1,2" || c.FSVars["b"] != "x=y" || !slices.Equal(c.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.1"}) {
		t.Fatalf("from the file: %+v %v", c.FSVars, c.TrustedProxies)
	}
	if err := os.WriteFile(p, []byte(`{"fs-var":{"domain":"example.com","x":"1,2"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	o = options{}
	flags(fs, &o)
	if err := applyConfigFile(fs, p); err != nil {
		t.Fatal(err)
	}
	if c := o.config2(); c.FSVars["domain"] != "example.com" || c.FSVars["x"] != "1,2" {
		t.Fatalf("fs-var object: %v", c.FSVars)
	}
	if err := fs.Set("fs-var", "novalue"); err == nil {
		t.Fatal("--fs-var without = accepted")
	}
}

// watch is a log writer that closes a channel once a line holding a
// substring was written.
type watch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	waits map[string]chan struct{}
}

func (w *watch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	for s, ch := range w.waits {
		if strings.Contains(w.buf.String(), s) {
			close(ch)
			delete(w.waits, s)
		}
	}
	return len(b), nil
}

func (w *watch) on(s string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(w.buf.String(), s) {
		close(ch)
		return ch
	}
	if w.waits == nil {
		w.waits = map[string]chan struct{}{}
	}
	w.waits[s] = ch
	return ch
}

func (w *watch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestFSConfAndSIGHUP runs xctrl on the test configuration in FreeSWITCH's
// layout: users log in with no warning at start; SIGHUP reloads them, and
// a broken file keeps the old ones, with its file and line in the log.
func TestFSConfAndSIGHUP(t *testing.T) {
	t.Setenv("XRTC_TEST_ENV_PASSWORD", "e")
	conf := t.TempDir()
	if out, err := exec.Command("cp", "-a", "../../../testdata/fsconf/.", conf).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, logs := startXctrl(t, "--fs-conf", conf, "--fs-var", "local_ip_v4=127.0.0.1", "--log-level", "debug")
	login := func(user, pw string) *verto.Message {
		t.Helper()
		c, err := ctrltest.Dial(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m, err := c.Call(ctx, verto.MethodLogin, map[string]any{"login": user, "passwd": pw})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// hup rewrites 1000.xml, sends SIGHUP and waits for the log line.
	file := filepath.Join(conf, "directory", "default", "1000.xml")
	hup := func(content, want string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		seen := logs.on(want)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-seen:
		case <-ctx.Done():
			t.Fatalf("no %q; log:\n%s", want, logs)
		}
	}
	if m := login("1000@127.0.0.1", "1234"); m.Error != nil {
		t.Fatalf("login: %+v\n%s", m.Error, logs)
	}
	if w := otherWarnings(t, logs.String()); len(w) > 0 {
		t.Errorf("warnings at start:\n%s", strings.Join(w, "\n"))
	}
	b, _ := os.ReadFile(file)
	hup(strings.Replace(string(b), "$${default_password}", "5678", 1), `msg="users reloaded"`)
	if m := login("1000@127.0.0.1", "5678"); m.Error != nil {
		t.Fatalf("after reload: %+v", m.Error)
	}
	hup("<include>\n<user id=\"1000\">\n</usr>\n</include>\n", "users not reloaded")
	if !strings.Contains(logs.String(), "1000.xml:3: malformed XML") {
		t.Errorf("the problem's place is not logged:\n%s", logs)
	}
	if m := login("1000@127.0.0.1", "5678"); m.Error != nil {
		t.Fatalf("the old users must stay: %+v", m.Error)
	}
}

func TestBrokenDirectoryAtStart(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "dir.xml")
	if err := os.WriteFile(f, []byte("<domain name=\"d\">\n<X-PRE-PROCESS cmd=\"exec\" data=\"cat users\"/>\n</domain>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"--directory", f, "--ws-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--metrics-listen", ""}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "dir.xml:2: X-PRE-PROCESS cmd=\\\"exec\\\"") {
		t.Fatalf("exit %d:\n%s", code, errb.String())
	}
}

// fsPrefix is the FreeSWITCH installation of TestInstalledFreeSWITCHConf.
func fsPrefix() string {
	if p := os.Getenv("FREESWITCH_PREFIX"); p != "" {
		return p
	}
	return "/usr/local/freeswitch"
}

// startXctrl runs xctrl with args until the test ends and returns its
// WebSocket URL and its log.
func startXctrl(t *testing.T, args ...string) (string, *watch) {
	t.Helper()
	outR, outW := io.Pipe()
	logs := &watch{}
	done := make(chan int, 1)
	args = append(args, "--ws-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--metrics-listen", "")
	go func() {
		done <- run(args, outW, logs)
		outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	url := ""
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "websocket" {
			url = f[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	if url == "" {
		t.Fatalf("xctrl did not start; log:\n%s", logs)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		if code := <-done; code != 0 {
			t.Errorf("xctrl exit %d", code)
		}
	})
	return url, logs
}

// TestInstalledFreeSWITCHConf: xctrl --fs-conf on a real FreeSWITCH's
// configuration folder (no FreeSWITCH needs to run) logs its stock users
// in, with no warning: the folder as installed for the tests, and with the
// pristine vars.xml (domain=$${local_ip_v4}, stun-set) put back.
func TestInstalledFreeSWITCHConf(t *testing.T) {
	confDir := filepath.Join(fsPrefix(), "conf")
	if _, err := os.Stat(filepath.Join(confDir, "freeswitch.xml")); err != nil {
		t.Skipf("no FreeSWITCH configuration at %s (set FREESWITCH_PREFIX): %v", confDir, err)
	}
	dirs := []string{confDir}
	if _, err := os.Stat(filepath.Join(confDir, "vars.xml.orig")); err == nil {
		stock := t.TempDir()
		if out, err := exec.Command("cp", "-a", confDir+"/.", stock).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if out, err := exec.Command("cp", filepath.Join(confDir, "vars.xml.orig"), filepath.Join(stock, "vars.xml")).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		dirs = append(dirs, stock)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			d, err := conf.LoadFreeSWITCH(dir, conf.DirectoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			domain := d.Vars["domain"]
			url, logs := startXctrl(t, "--fs-conf", dir)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for n := 1000; n <= 1019; n++ {
				c, err := ctrltest.Dial(ctx, url)
				if err != nil {
					t.Fatal(err)
				}
				m, err := c.Call(ctx, verto.MethodLogin, map[string]any{"login": fmt.Sprintf("%d@%s", n, domain), "passwd": "1234"})
				c.Close()
				if err != nil || m.Error != nil {
					t.Fatalf("%d@%s: %v %+v\n%s", n, domain, err, m, logs)
				}
			}
			if w := otherWarnings(t, logs.String()); len(w) > 0 {
				t.Errorf("warnings:\n%s", strings.Join(w, "\n"))
			}
		})
	}
}

// otherWarnings are the warning and error lines of a log from a stock
// FreeSWITCH conf, but the one it must have: its users log in with the
// stock default_password.
func otherWarnings(t *testing.T, log string) []string {
	t.Helper()
	var out []string
	stock := false
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "level=WARN") && !strings.Contains(line, "level=ERROR") {
			continue
		}
		if strings.Contains(line, "stock default_password") {
			stock = true
			continue
		}
		out = append(out, line)
	}
	if !stock {
		t.Error("no warning that the stock conf's users log in with its default_password")
	}
	return out
}
