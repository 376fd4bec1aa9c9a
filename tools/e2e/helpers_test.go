package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// directory is the test directory (users 1000-1019@xswitch.cn, password
// 1234): the XCtrl instances of these tests read it as a real deployment
// reads its FreeSWITCH directory.
const directory = "../../testdata/conf/directory.xml"

// builtinUsers as Options.DirectoryFile gives XCtrl the stack's built-in
// users instead: the same ids and password, without the directory's
// jsonrpc-allowed-event-channels (see TestConferenceDirectoryUser).
const builtinUsers = "builtin"

// env is one test's running system: the stack (embedded NATS, XCtrl
// instances, test-host nodes), its clients, a deadline, and a goroutine
// leak check when it is torn down.
type env struct {
	t   *testing.T
	ctx context.Context
	st  *stack.Stack

	mu      sync.Mutex
	clients []*client.Client
	closers []func()
}

// newEnv starts a stack for one test, bounded by timeout. The clean-up
// closes the clients, the stack and NATS, then checks that no goroutine
// leaked.
func newEnv(t *testing.T, o stack.Options, timeout time.Duration) *env {
	t.Helper()
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	if o.DirectoryFile == "" {
		o.DirectoryFile = directory
	} else if o.DirectoryFile == builtinUsers {
		o.DirectoryFile = ""
	}
	o.Log = testLogger(t)
	st, err := stack.Start(ctx, o)
	if err != nil {
		cancel()
		t.Fatalf("stack: %v", err)
	}
	e := &env{t: t, ctx: ctx, st: st}
	t.Cleanup(func() {
		e.mu.Lock()
		clients, closers := e.clients, e.closers
		e.mu.Unlock()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		for _, c := range clients {
			_ = c.Close()
		}
		sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := st.Close(sctx); err != nil {
			t.Errorf("stack close: %v", err)
		}
		scancel()
		cancel()
		checkLeaks(t, base)
	})
	return e
}

// testLogger writes every part's logs into the test log with E2E_LOG=1,
// and drops them otherwise.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// onClose registers f to run at clean-up, before the clients and the stack
// close.
func (e *env) onClose(f func()) {
	e.mu.Lock()
	e.closers = append(e.closers, f)
	e.mu.Unlock()
}

// dial logs user (1000..1019) in on XCtrl i with the client library.
func (e *env) dial(i, user int) *client.Client {
	e.t.Helper()
	c, err := client.Dial(e.ctx, client.Options{
		URL: e.st.WSURL(i), Login: stack.User(user), Passwd: stack.Password,
		Settings: client.LoopbackSettings(), RequestTimeout: 10 * time.Second,
		Logger: testLogger(e.t),
	})
	if err != nil {
		e.t.Fatalf("login %d on xctrl %d: %v", user, i+1, err)
	}
	e.mu.Lock()
	e.clients = append(e.clients, c)
	e.mu.Unlock()
	return c
}

// call places a call and waits for the answer.
func (e *env) call(c *client.Client, dest string, o client.CallOptions) *client.Call {
	e.t.Helper()
	call, err := c.Call(e.ctx, dest, o)
	if err != nil {
		e.t.Fatalf("call %s: %v", dest, err)
	}
	if err := call.WaitAnswered(e.ctx); err != nil {
		e.t.Fatalf("call %s not answered: %v", dest, err)
	}
	return call
}

// hangup ends a call with verto.bye and checks it ended NORMAL_CLEARING.
func (e *env) hangup(call *client.Call) client.Report {
	e.t.Helper()
	if err := call.Hangup(e.ctx); err != nil {
		e.t.Errorf("hangup %s: %v", call.ID(), err)
	}
	r := call.Report()
	if r.HangupCause != verto.CauseNormalClearing.String() {
		e.t.Errorf("call %s ended %s (%d), want NORMAL_CLEARING", call.ID(), r.HangupCause, r.HangupCauseCode)
	}
	return r
}

// eventually polls cond (a counter in another process part that has no
// notification of its own) until it holds or the test's deadline passes.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-e.ctx.Done():
			e.t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// expectMedia checks the report of a call that carried audio both ways.
func expectMedia(t *testing.T, r client.Report, minPackets uint64) {
	t.Helper()
	if !r.Answered || r.RTPPacketsSent < minPackets || r.RTPPacketsReceived < minPackets {
		t.Errorf("call %s: answered=%v sent=%d received=%d, want both >= %d", r.CallID, r.Answered, r.RTPPacketsSent, r.RTPPacketsReceived, minPackets)
	}
	if r.LossPct > 2 {
		t.Errorf("call %s: loss %.2f%%", r.CallID, r.LossPct)
	}
	if r.Codec != "PCMU" {
		t.Errorf("call %s: codec %q", r.CallID, r.Codec)
	}
}

// spy records the Verto messages published on NATS subjects: a plain
// (non-queue) subscription sees every message whoever takes it.
type spy struct {
	nc *nats.Conn
	mu sync.Mutex
	by map[string][]*verto.Message
}

func (e *env) spy(subjects ...string) *spy {
	e.t.Helper()
	nc, err := nats.Connect(e.st.NATSURL())
	if err != nil {
		e.t.Fatal(err)
	}
	s := &spy{nc: nc, by: map[string][]*verto.Message{}}
	for _, subj := range subjects {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			msg, err := verto.DecodeMessage(m.Data, verto.DefaultLimits)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.by[m.Subject] = append(s.by[m.Subject], msg)
			s.mu.Unlock()
		}); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	e.onClose(nc.Close)
	return s
}

// invites returns the verto.invite requests seen on subject for callID.
func (s *spy) invites(subject, callID string) []*verto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*verto.Message
	for _, m := range s.by[subject] {
		if m.Method != verto.MethodInvite {
			continue
		}
		var p verto.ServerCallParams
		if m.DecodeParams(&p) == nil && p.CallID == callID {
			out = append(out, m)
		}
	}
	return out
}

// param reads one top-level param of a message as a string.
func param(m *verto.Message, key string) string {
	var o map[string]json.RawMessage
	if json.Unmarshal(m.Params, &o) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(o[key], &s) != nil {
		return string(o[key])
	}
	return s
}

// checkLeaks waits (bounded) for the goroutine count to come back to base
// and fails with the remaining stacks if it does not. Polling a count is
// how a leak check works: there is no event to wait on.
func checkLeaks(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 2<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines leaked: %d before, %d after\n%s", base, n, filterStacks(buf))
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// filterStacks drops the test runner's own goroutines from a dump.
func filterStacks(b []byte) []byte {
	var out bytes.Buffer
	for _, g := range bytes.Split(b, []byte("\n\n")) {
		if bytes.Contains(g, []byte("testing.(*T).Run")) || bytes.Contains(g, []byte("testing.tRunner")) ||
			bytes.Contains(g, []byte("runtime.Stack")) || bytes.Contains(g, []byte("testing.runTests")) {
			continue
		}
		out.Write(g)
		out.WriteString("\n\n")
	}
	return out.Bytes()
}

func fatalIf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
