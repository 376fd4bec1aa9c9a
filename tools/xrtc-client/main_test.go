package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

const (
	user   = "1000@example.com"
	passwd = "secret"
)

// syncBuffer is a bytes.Buffer safe for the command's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setup(t *testing.T, cfg vertotest.Config) (context.Context, *vertotest.Server) {
	t.Helper()
	t.Cleanup(func() { checkNoLeaks(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t.Cleanup(cancel)
	if cfg.Users == nil {
		cfg.Users = map[string]string{user: passwd}
	}
	return ctx, vertotest.New(t, cfg)
}

func checkNoLeaks(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "checkNoLeaks") {
				continue
			}
			if strings.Contains(g, "xccrtc/tools") || strings.Contains(g, "github.com/pion/") || strings.Contains(g, "gorilla/websocket") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

func conn(url string) []string {
	return []string{"--url", url, "--login", user, "--passwd", passwd, "--ice-loopback", "-q"}
}

// runCmd runs the command line in process and returns the exit code,
// stdout and stderr.
func runCmd(ctx context.Context, args ...string) (int, string, string) {
	var out, errb syncBuffer
	code := runContext(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// cmdResult is what a command run in the background gave.
type cmdResult struct {
	code     int
	out, err string
}

// startCmd runs the command line in the background.
func startCmd(ctx context.Context, args ...string) <-chan cmdResult {
	done := make(chan cmdResult, 1)
	go func() {
		code, out, errs := runCmd(ctx, args...)
		done <- cmdResult{code, out, errs}
	}()
	return done
}

func decode(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line, got %d:\n%s", len(lines), out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return m
}

func TestHelpAndUsage(t *testing.T) {
	ctx := context.Background()
	if code, out, _ := runCmd(ctx, "--help"); code != exitOK || !strings.Contains(out, "conference") {
		t.Errorf("--help: %d %q", code, out)
	}
	for _, cmd := range []string{"call", "answer", "conference", "load"} {
		code, out, _ := runCmd(ctx, cmd, "--help")
		if code != exitOK || !strings.Contains(out, "-url") || !strings.Contains(out, "usage: xrtc-client "+cmd) {
			t.Errorf("%s --help: %d %q", cmd, code, out)
		}
	}
	for _, args := range [][]string{
		{},
		{"nonsense"},
		{"call"},                    // no DEST
		{"call", "9196"},            // no --url
		{"call", "9196", "--bogus"}, // unknown flag
		{"call", "9196", "--url", "ws://x", "--login", user}, // no credentials
		{"call", "9196", "--url", "ws://x", "--login", user, "--passwd", "p", "--codec", "g729"},
		{"answer", "--url", "ws://x", "--login", user, "--passwd", "p", "--reject-cause", "NOPE"},
	} {
		if code, _, _ := runCmd(ctx, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestCallCommand(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{NodeUUID: "node-9"})
	args := append([]string{"call", "9196"}, conn(srv.URL())...)
	args = append(args, "--duration", "800ms", "--dtmf", "12", "--dtmf-delay", "100ms", "--hold-after", "200ms", "--hold-for", "200ms", "--json")
	code, out, errs := runCmd(ctx, args...)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	r := decode(t, out)
	for _, k := range []string{"setup_ms", "rtp_packets_sent", "rtp_packets_received", "hangup_cause", "loss_pct", "jitter_ms", "call_id", "duration_ms", "reloads"} {
		if _, ok := r[k]; !ok {
			t.Errorf("no %s in %v", k, r)
		}
	}
	if r["hangup_cause"] != "NORMAL_CLEARING" || r["dtmf_sent"] != "12" || r["node_uuid"] != "node-9" || r["holds"] != 1.0 {
		t.Errorf("report %v", r)
	}
	if r["rtp_packets_received"].(float64) == 0 || r["setup_ms"].(float64) <= 0 {
		t.Errorf("no media: %v", r)
	}
	// in text
	args = append([]string{"call", "9196"}, conn(srv.URL())...)
	code, out, _ = runCmd(ctx, append(args, "--duration", "300ms")...)
	if code != exitOK || !strings.Contains(out, "hang-up NORMAL_CLEARING (16) by local") {
		t.Errorf("text report: %d\n%s", code, out)
	}
}

func TestCallCommandFailures(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	code, out, _ := runCmd(ctx, append(append([]string{"call", "busy"}, conn(srv.URL())...), "--json")...)
	if r := decode(t, out); code != exitFailure || r["hangup_cause"] != "USER_BUSY" || r["answered"] != false {
		t.Errorf("busy: %d %v", code, r)
	}
	code, out, _ = runCmd(ctx, append(append([]string{"call", "error"}, conn(srv.URL())...), "--json")...)
	if r := decode(t, out); code != exitFailure || r["hangup_cause"] != "NO_ROUTE_DESTINATION" {
		t.Errorf("error: %d %v", code, r)
	}
	args := []string{"call", "9196", "--url", srv.URL(), "--login", user, "--passwd", "wrong", "--json"}
	code, out, _ = runCmd(ctx, args...)
	if r := decode(t, out); code != exitFailure || !strings.Contains(r["error"].(string), "Login Incorrect") {
		t.Errorf("bad password: %d %v", code, r)
	}
}

func TestCallCommandReload(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{NodeUUID: "node-9"})
	other := srv.AddListener()
	args := append([]string{"call", "9196"}, conn(srv.URL())...)
	args = append(args, "--reload-after", "300ms", "--reload-url", other, "--duration", "1200ms", "--json")
	code, out, errs := runCmd(ctx, args...)
	r := decode(t, out)
	if code != exitOK || r["reloads"] != 1.0 || r["hangup_cause"] != "NORMAL_CLEARING" {
		t.Errorf("exit %d report %v\n%s", code, r, errs)
	}
}

// waitAnswered waits until the fake server has the client's call up with
// media flowing, and returns its callID.
func waitAnswered(t *testing.T, ctx context.Context, srv *vertotest.Server) string {
	t.Helper()
	inv, err := srv.WaitFor(ctx, func(r vertotest.Received) bool { return r.Msg.Method == verto.MethodInvite })
	if err != nil {
		t.Fatal(err)
	}
	dp, _ := inv.Params["dialogParams"].(map[string]any)
	id, _ := dp["callID"].(string)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if ci, _ := srv.CallInfo(id); ci.Answered && ci.Echoed > 5 {
			return id
		}
		select {
		case <-tick.C: // media counters do not signal: poll them
		case <-ctx.Done():
			t.Fatal("call not up")
		}
	}
}

// A signal hangs the call up cleanly and the report is still printed.
func TestCallCommandInterrupted(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := startCmd(cctx, append(append([]string{"call", "9196"}, conn(srv.URL())...), "--json")...)
	id := waitAnswered(t, ctx, srv)
	cancel() // what SIGINT does through signal.NotifyContext
	res := <-done
	r := decode(t, res.out)
	if res.code != exitOK || r["hangup_cause"] != "NORMAL_CLEARING" || r["call_id"] != id {
		t.Errorf("exit %d report %v\n%s", res.code, r, res.err)
	}
	if ci, _ := srv.CallInfo(id); !ci.Ended || ci.Cause != "NORMAL_CLEARING" {
		t.Errorf("server %+v", ci)
	}
}

// The real thing: SIGINT to the process, caught by run.
func TestCallCommandSIGINT(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(append([]string{"call", "9196"}, conn(srv.URL())...), &out, &errb) }()
	waitAnswered(t, ctx, srv)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(out.String(), "hang-up NORMAL_CLEARING") {
			t.Errorf("exit %d\n%s\n%s", code, out.String(), errb.String())
		}
	case <-ctx.Done():
		t.Fatal("run did not end on SIGINT")
	}
}

func TestAnswerCommand(t *testing.T) {
	for _, reject := range []bool{false, true} {
		name := "answer"
		if reject {
			name = "reject"
		}
		t.Run(name, func(t *testing.T) {
			ctx, srv := setup(t, vertotest.Config{NodeUUID: "node-9"})
			args := append([]string{"answer"}, conn(srv.URL())...)
			args = append(args, "--count", "1", "--answer-delay", "50ms", "--duration", "600ms", "--json")
			if reject {
				args = append(args, "--reject", "--reject-cause", "USER_BUSY")
			}
			done := startCmd(ctx, args...)
			if _, err := srv.WaitLoggedIn(ctx, user); err != nil {
				t.Fatal(err)
			}
			id, err := srv.Invite(ctx, user, vertotest.InviteOptions{CallerIDName: "Bob", CallerIDNumber: "2000"})
			if err != nil {
				t.Fatal(err)
			}
			res := <-done
			r := decode(t, res.out)
			if res.code != exitOK || r["call_id"] != id || r["direction"] != "inbound" {
				t.Fatalf("exit %d report %v\n%s", res.code, r, res.err)
			}
			ci, _ := srv.CallInfo(id)
			if reject {
				if r["answered"] != false || r["hangup_cause"] != "USER_BUSY" || ci.Cause != "USER_BUSY" {
					t.Errorf("report %v server %+v", r, ci)
				}
				return
			}
			if r["answered"] != true || r["rtp_packets_received"].(float64) == 0 || r["hangup_cause"] != "NORMAL_CLEARING" || !ci.Answered {
				t.Errorf("report %v server %+v", r, ci)
			}
		})
	}
}

func TestConferenceCommand(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	srv.AddMember("3000", "other", "0001", "2000", "Other")
	args := append([]string{"conference", "conf-3000"}, conn(srv.URL())...)
	args = append(args, "--chat", "hello", "--duration", "800ms", "--json")
	code, out, errs := runCmd(ctx, args...)
	r := decode(t, out)
	if code != exitOK {
		t.Fatalf("exit %d %v\n%s", code, r, errs)
	}
	conf, _ := r["conference"].(map[string]any)
	members, _ := r["members"].([]any)
	// the server took this call out of the list when it hung up
	if conf["name"] != "3000" || len(members) != 1 || r["max_members"] != 2.0 || r["chats_seen"] != 1.0 || r["hangup_cause"] != "NORMAL_CLEARING" {
		t.Errorf("report %v", r)
	}
}

func TestLoadCommand(t *testing.T) {
	ctx, srv := setup(t, vertotest.Config{})
	args := append([]string{"load", "echo"}, conn(srv.URL())...)
	args = append(args, "--calls", "3", "--rate", "30", "--duration", "1s", "--json")
	code, out, errs := runCmd(ctx, args...)
	r := decode(t, out)
	if code != exitOK || r["calls_succeeded"] != 3.0 || r["calls_failed"] != 0.0 {
		t.Errorf("exit %d %v\n%s", code, r, errs)
	}
	setup, _ := r["setup_ms"].(map[string]any)
	if setup["p50"].(float64) <= 0 || r["mem_per_pc_bytes"].(float64) <= 0 {
		t.Errorf("figures %v", r)
	}
	code, out, _ = runCmd(ctx, append(append([]string{"load", "busy"}, conn(srv.URL())...), "--calls", "2", "--rate", "50", "--duration", "500ms", "--max-calls", "2")...)
	if code != exitFailure || !strings.Contains(out, "USER_BUSY=2") {
		t.Errorf("busy load: %d\n%s", code, out)
	}
}

func TestProgressBar(t *testing.T) {
	s := progressBar(clientProgress(5*time.Second, 10*time.Second))
	if !strings.HasPrefix(s, "[###############...............]") {
		t.Errorf("%q", s)
	}
}
