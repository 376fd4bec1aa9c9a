//go:build freeswitch

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/ctrl/natsd"
	"xccrtc/verto"
)

// fsEnv is one FreeSWITCH started for the tests: the installation's binary
// and modules, with a copy of its configuration and its own log, db, run and
// temp folders, so that nothing of the installation but mod_xrtc.so changes.
type fsEnv struct {
	t      *testing.T
	prefix string // FreeSWITCH installation
	root   string // repository root
	dir    string // this run's folders
	port   int    // event socket port (fs_cli -P)
	pid    int
	args   []string // the command that starts it (restart runs it again)
	nats   *natsd.Server
	nc     *nats.Conn
}

// findFreeSWITCH returns the installation prefix, or why there is none.
func findFreeSWITCH() (string, string) {
	if p := os.Getenv("FREESWITCH_PREFIX"); p != "" {
		if _, err := os.Stat(filepath.Join(p, "bin", "freeswitch")); err != nil {
			return "", fmt.Sprintf("FREESWITCH_PREFIX=%s has no bin/freeswitch", p)
		}
		return p, ""
	}
	if _, err := exec.LookPath("pkg-config"); err != nil {
		return "", "pkg-config is not installed and FREESWITCH_PREFIX is not set"
	}
	cmd := exec.Command("pkg-config", "--variable=prefix", "freeswitch")
	cmd.Env = append(os.Environ(), "PKG_CONFIG_PATH="+strings.Trim(os.Getenv("PKG_CONFIG_PATH")+":/usr/local/freeswitch/lib/pkgconfig", ":"))
	out, err := cmd.Output()
	p := strings.TrimSpace(string(out))
	if err != nil || p == "" {
		return "", "FreeSWITCH not found: pkg-config knows no 'freeswitch' (set FREESWITCH_PREFIX or PKG_CONFIG_PATH)"
	}
	if _, err := os.Stat(filepath.Join(p, "bin", "freeswitch")); err != nil {
		return "", fmt.Sprintf("pkg-config's freeswitch prefix %s has no bin/freeswitch", p)
	}
	return p, ""
}

func runningFreeSWITCH() string {
	out, err := exec.Command("pgrep", "-x", "freeswitch").Output()
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(string(out)), ",")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startFreeSWITCH builds and installs mod_xrtc (make install-module), starts
// an embedded NATS and a FreeSWITCH whose xcc-rtc.conf.xml points at it. It
// skips the test when FreeSWITCH is missing or already running (its
// mod_xrtc.so cannot be replaced under it).
func startFreeSWITCH(t *testing.T, xrtcConf func(natsURL string) string, opts ...fsOption) *fsEnv {
	t.Helper()
	prefix, why := findFreeSWITCH()
	if prefix == "" {
		t.Skip("skipping the FreeSWITCH tests: " + why)
	}
	if pids := runningFreeSWITCH(); pids != "" {
		t.Skipf("skipping the FreeSWITCH tests: a FreeSWITCH is running (pid %s); installing mod_xrtc.so under it could crash it. Stop it (fs_cli -x shutdown) and run again.", pids)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s", root)
	}
	dir, err := os.MkdirTemp("", "xrtc-fs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("XRTC_TEST_KEEP") != "" {
			t.Logf("FreeSWITCH's folders (conf, log) kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	f := &fsEnv{t: t, prefix: prefix, root: root, dir: dir}

	// Build and install the module as an operator would.
	make := exec.Command("make", "-C", root, "install-module", "FREESWITCH_PREFIX="+prefix)
	out, err := make.CombinedOutput()
	t.Logf("make install-module:\n%s", out)
	if err != nil {
		t.Fatalf("make install-module: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	f.nats = ns
	t.Cleanup(ns.Close)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	f.nc = nc
	t.Cleanup(nc.Close)

	// The installation's configuration, with our event socket port and
	// xcc-rtc.conf.xml.
	conf := filepath.Join(f.dir, "conf")
	if out, err := exec.Command("cp", "-a", filepath.Join(prefix, "conf"), conf).CombinedOutput(); err != nil {
		t.Fatalf("copy conf: %v: %s", err, out)
	}
	f.port = freePort(t)
	es := filepath.Join(conf, "autoload_configs", "event_socket.conf.xml")
	b, err := os.ReadFile(es)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), `name="listen-port" value="8021"`, fmt.Sprintf(`name="listen-port" value="%d"`, f.port), 1)
	if err := os.WriteFile(es, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	// The users stay as they are (1000-1019, password 1234): the test
	// installation's dialplan has no 10 s default-password sleep
	// (/work/shared/tools/freeswitch-for-tests.sh). The tests add their
	// own extensions only.
	if err := os.WriteFile(filepath.Join(conf, "dialplan", "default", "00_xrtc_tests.xml"), []byte(testDialplan), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "autoload_configs", "xcc-rtc.conf.xml"), []byte(xrtcConf(ns.ClientURL())), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"log", "db", "run", "temp"} {
		if err := os.MkdirAll(filepath.Join(f.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// -nc backgrounds FreeSWITCH; -np keeps it (and the Go runtime inside
	// it) off real-time priority.
	var o fsOption
	for _, x := range opts {
		o.wrap = append(o.wrap, x.wrap...)
		o.autoPriority = o.autoPriority || x.autoPriority
		if x.editConf != nil {
			x.editConf(t, conf)
		}
	}
	args := []string{filepath.Join(prefix, "bin", "freeswitch"), "-nc", "-nonat", "-nonatmap"}
	if !o.autoPriority {
		args = append(args, "-np")
	}
	f.args = append(o.wrap, append(args, "-conf", conf, "-log", filepath.Join(f.dir, "log"), "-db", filepath.Join(f.dir, "db"),
		"-run", filepath.Join(f.dir, "run"), "-temp", filepath.Join(f.dir, "temp"))...)
	t.Cleanup(f.stop)
	f.launch()
	return f
}

// launch starts FreeSWITCH (f.args) and waits until it is up.
func (f *fsEnv) launch() {
	t := f.t
	logf, err := os.OpenFile(filepath.Join(f.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// a FreeSWITCH killed before (restart) left its pid file
	_ = os.Remove(filepath.Join(f.dir, "run", "freeswitch.pid"))
	cmd := exec.Command(f.args[0], f.args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Run(); err != nil {
		t.Fatalf("start FreeSWITCH: %v", err)
	}
	f.pid = 0
	deadline := time.Now().Add(90 * time.Second)
	for {
		if f.pid == 0 {
			if b, err := os.ReadFile(filepath.Join(f.dir, "run", "freeswitch.pid")); err == nil {
				f.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
		}
		if out, err := f.cli("status"); err == nil && strings.Contains(out, "UP") {
			t.Logf("FreeSWITCH up (pid %d):\n%s", f.pid, out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FreeSWITCH did not come up in 90 s; log:\n%s", f.logTail(60))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// fsOption changes how startFreeSWITCH starts FreeSWITCH.
type fsOption struct {
	wrap         []string // command prefix, e.g. chrt -r 89
	autoPriority bool     // no -np: FreeSWITCH sets its own (real-time) priority
	// editConf changes the copy of the configuration before the start
	// (the installation's stays as it is).
	editConf func(t *testing.T, confDir string)
}

// cli runs one fs_cli command.
func (f *fsEnv) cli(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(f.prefix, "bin", "fs_cli"),
		"-H", "127.0.0.1", "-P", strconv.Itoa(f.port), "-p", "ClueCon", "-x", cmd).CombinedOutput()
	return string(out), err
}

// mustCLI runs an fs_cli command that must succeed and not answer -ERR.
func (f *fsEnv) mustCLI(cmd string) string {
	f.t.Helper()
	out, err := f.cli(cmd)
	if err != nil || strings.HasPrefix(strings.TrimSpace(out), "-ERR") {
		f.t.Fatalf("fs_cli -x %q: %v\n%s", cmd, err, out)
	}
	return out
}

func (f *fsEnv) alive() bool {
	return f.pid > 0 && syscall.Kill(f.pid, 0) == nil
}

// stop shuts FreeSWITCH down (fs_cli -x shutdown) and waits for it; only
// if it is still there after 30 s is the process we started killed.
func (f *fsEnv) stop() {
	if f.t.Failed() {
		f.t.Logf("FreeSWITCH log (tail):\n%s", f.logTail(40))
	}
	if !f.alive() {
		return
	}
	_, _ = f.cli("shutdown")
	deadline := time.Now().Add(30 * time.Second)
	for f.alive() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if f.alive() {
		f.t.Errorf("FreeSWITCH (pid %d) did not stop in 30 s: killing it", f.pid)
		_ = syscall.Kill(f.pid, syscall.SIGKILL)
	} else {
		f.t.Logf("FreeSWITCH (pid %d) stopped", f.pid)
	}
}

func (f *fsEnv) logTail(n int) string {
	b, err := os.ReadFile(filepath.Join(f.dir, "log", "freeswitch.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grepLog returns the log lines containing s.
func (f *fsEnv) grepLog(s string) []string {
	fl, err := os.Open(filepath.Join(f.dir, "log", "freeswitch.log"))
	if err != nil {
		return nil
	}
	defer fl.Close()
	var out []string
	sc := bufio.NewScanner(fl)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// nextMethod waits for a message with that JSON-RPC method on sub.
func nextMethod(t *testing.T, sub *nats.Subscription, method string, d time.Duration) *verto.Message {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %s on %s in %s", method, sub.Subject, d)
		}
		msg, err := sub.NextMsg(left)
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				continue
			}
			t.Fatal(err)
		}
		m, err := verto.DecodeMessage(msg.Data, verto.Limits{})
		if err != nil {
			t.Fatalf("bad message on %s: %v: %s", sub.Subject, err, msg.Data)
		}
		if m.Method == method {
			return m
		}
	}
}
