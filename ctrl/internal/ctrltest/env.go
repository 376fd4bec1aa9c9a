// Package ctrltest is the test kit of XCtrl: an embedded NATS, XCtrl
// instances and fake nodes started in-process, and a raw Verto client, so
// that tests read like the behaviour they check.
package ctrltest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/ctrl/natsd"
	"xccrtc/verto"
)

// Domain is the test users' domain.
const Domain = "example.com"

// Password is every test user's password.
const Password = "secret"

// Env is a running test system.
type Env struct {
	T     testing.TB
	Ctx   context.Context
	NATS  *natsd.Server
	Users ctrl.MapStore
	Ctrls []*ctrl.Server
	Nodes []*fakenode.Node

	mu       sync.Mutex // clients: tests open browsers from several goroutines
	clients  []*Client
	clusters []*Cluster
	cancel   context.CancelFunc
	log      *slog.Logger // Options.Logger
}

// Options tune New.
type Options struct {
	Timeout time.Duration // the test's deadline (20 s)
	NoLeak  bool          // skip the goroutine leak check
	// Logger, when set, is every XCtrl's logger (default: Logger).
	Logger *slog.Logger
}

// New starts an embedded NATS (JetStream on, a free port) and registers the
// clean-up, which stops everything and checks that no goroutine leaked.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	e := &Env{T: t, Ctx: ctx, NATS: ns, Users: DefaultUsers(), cancel: cancel, log: o.Logger}
	t.Cleanup(func() {
		e.stop()
		if !o.NoLeak {
			CheckLeaks(t, base)
		}
	})
	return e
}

// DefaultUsers are users 1000..1009 of Domain with Password.
func DefaultUsers() ctrl.MapStore {
	m := ctrl.MapStore{}
	for i := 1000; i < 1010; i++ {
		m.Add(fmt.Sprint(i), Domain, Password, nil)
	}
	return m
}

// Goroutines is the current goroutine count (a leak check's base).
func Goroutines() int { return runtime.NumGoroutine() }

func (e *Env) stop() {
	e.mu.Lock()
	clients := e.clients
	e.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := len(e.Ctrls) - 1; i >= 0; i-- {
		if err := e.Ctrls[i].Shutdown(sctx); err != nil {
			e.T.Errorf("shutdown %s: %v", e.Ctrls[i].CtrlUUID(), err)
		}
	}
	for _, n := range e.Nodes {
		n.Kill()
	}
	for _, c := range e.clusters {
		c.Close()
	}
	e.NATS.Close()
	e.cancel()
}

// RestartNATS stops the NATS server and starts a new one on the same
// address with an empty store, as a restarted server with memory storage
// (or a new one) comes back: everything it held is gone.
func (e *Env) RestartNATS() {
	e.T.Helper()
	u, err := url.Parse(e.NATS.ClientURL())
	if err != nil {
		e.T.Fatal(err)
	}
	e.NATS.Close()
	ns, err := natsd.Start(e.Ctx, natsd.Options{Listen: u.Host})
	if err != nil {
		e.T.Fatal(err)
	}
	e.NATS = ns
}

// Config returns a test configuration: free ports, the shared NATS, short
// timers.
func (e *Env) Config() ctrl.Config {
	return ctrl.Config{
		WSListen:      "127.0.0.1:0",
		MetricsListen: "127.0.0.1:0",
		NATSURLs:      []string{e.NATS.ClientURL()},
		JWTSecret:     "test-secret",
		Timers: ctrl.Timers{
			NodeSweep: 50 * time.Millisecond,
			LoginWait: time.Second,
			Request:   2 * time.Second,
			Invite:    2 * time.Second,
			Forward:   time.Second,
		},
	}
}

// StartCtrl starts an XCtrl instance on the env's NATS with the test users
// (or the directory's the config names); mutate, if set, edits the config
// first.
func (e *Env) StartCtrl(mutate func(*ctrl.Config)) *ctrl.Server {
	e.T.Helper()
	cfg := e.Config()
	if mutate != nil {
		mutate(&cfg)
	}
	deps := ctrl.Deps{Users: e.Users, Logger: e.log}
	if deps.Logger == nil {
		deps.Logger = Logger(e.T)
	}
	if cfg.DirectoryFile != "" || cfg.FSConfDir != "" || cfg.UserLookup == ctrl.UserLookupNode {
		deps.Users = nil // the directory's users
	}
	s, err := ctrl.New(cfg, deps)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := s.Start(e.Ctx); err != nil {
		e.T.Fatal(err)
	}
	e.Ctrls = append(e.Ctrls, s)
	return s
}

// StartNode starts a fake node (on the env's NATS unless o.URL is set) and
// waits until every XCtrl knows it.
func (e *Env) StartNode(o fakenode.Options) *fakenode.Node {
	e.T.Helper()
	if o.URL == "" {
		o.URL = e.NATS.ClientURL()
	}
	n, err := fakenode.Start(e.Ctx, o)
	if err != nil {
		e.T.Fatal(err)
	}
	e.Nodes = append(e.Nodes, n)
	e.WaitNode(n.UUID(), true)
	return n
}

// WaitNode waits until every XCtrl sees the node alive (or gone).
func (e *Env) WaitNode(uuid string, alive bool) {
	e.T.Helper()
	for _, s := range e.Ctrls {
		err := s.WaitNodes(e.Ctx, func(ns []verto.Node) bool {
			for _, n := range ns {
				if n.UUID == uuid {
					return alive
				}
			}
			return !alive
		})
		if err != nil {
			e.T.Fatalf("node %s alive=%v on %s: %v", uuid, alive, s.CtrlUUID(), err)
		}
	}
}

// Dial opens a browser to an XCtrl instance.
func (e *Env) Dial(s *ctrl.Server) *Browser {
	e.T.Helper()
	return e.DialSessid(s, newSessid())
}

// DialSessid opens a browser with a given sessid (a reload keeps it).
func (e *Env) DialSessid(s *ctrl.Server, sessid string) *Browser {
	e.T.Helper()
	c, err := DialSessid(e.Ctx, s.WSURL(), sessid)
	if err != nil {
		e.T.Fatal(err)
	}
	return e.Adopt(c)
}

// Adopt makes a client dialled by hand a Browser the env closes.
func (e *Env) Adopt(c *Client) *Browser {
	e.mu.Lock()
	e.clients = append(e.clients, c)
	e.mu.Unlock()
	return &Browser{Client: c, t: e.T, ctx: e.Ctx}
}

// Login opens a browser and logs user (1000..1009) in.
func (e *Env) Login(s *ctrl.Server, user string) *Browser {
	e.T.Helper()
	b := e.Dial(s)
	b.Login(user+"@"+Domain, Password, nil)
	return b
}

// Logger logs at debug level into the test log when XCTRL_TEST_LOG is set,
// and only errors otherwise.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("XCTRL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// CheckLeaks waits (bounded) for the goroutine count to come back to base
// and fails with the remaining stacks if it does not. The NATS server
// library's own goroutines (a file store's flush loop outliving its
// shutdown by a moment) are not counted: they are not ours to leak.
func CheckLeaks(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		if n-natsServerGoroutines(buf) <= base {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines leaked: %d before, %d after\n%s", base, n, filterStacks(buf))
			return
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling a count, not synchronising with an event
	}
}

// natsServerGoroutines counts the goroutines of a dump that run NATS
// server code.
func natsServerGoroutines(b []byte) int {
	n := 0
	for _, g := range bytes.Split(b, []byte("\n\n")) {
		if bytes.Contains(g, []byte("nats-io/nats-server/")) {
			n++
		}
	}
	return n
}

// filterStacks drops the test runner's own goroutines from a dump.
func filterStacks(b []byte) []byte {
	var out bytes.Buffer
	for _, g := range bytes.Split(b, []byte("\n\n")) {
		if bytes.Contains(g, []byte("testing.(*T).Run")) || bytes.Contains(g, []byte("testing.tRunner")) ||
			bytes.Contains(g, []byte("runtime.Stack")) {
			continue
		}
		out.Write(g)
		out.WriteString("\n\n")
	}
	return out.Bytes()
}

// WaitBooked waits until the call book in the env's NATS says that sessid
// has calls on node. XCtrl writes it in the background once a call is
// established; a test that reloads a page onto another instance at once
// must wait for it, as a page reload seconds later never notices.
func (e *Env) WaitBooked(sessid, node string) {
	e.T.Helper()
	nc, err := nats.Connect(e.NATS.ClientURL())
	if err != nil {
		e.T.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		e.T.Fatal(err)
	}
	key := ctrl.EncodeKey(sessid) + "." + ctrl.EncodeKey(node)
	for {
		if kv, err := js.KeyValue(e.Ctx, e.Config().Defaults().CallBookBucket); err == nil {
			if _, err := kv.Get(e.Ctx, key); err == nil {
				return
			}
		}
		select {
		case <-e.Ctx.Done():
			e.T.Fatalf("the call book never said %s has calls on %s", sessid, node)
		case <-time.After(10 * time.Millisecond): // polling a bucket: no event to wait on
		}
	}
}
