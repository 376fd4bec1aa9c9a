package ctrl_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/verto"
)

// stalled is a registry and a call book whose every request hangs until its
// context ends, as JetStream's do while a NATS cluster elects new leaders
// for their replicas (a member died). It records how long each wait was
// allowed to last.
type stalled struct {
	mu    sync.Mutex
	waits map[string][]time.Duration
}

func (s *stalled) hang(ctx context.Context, op string) error {
	d := time.Hour
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	s.mu.Lock()
	if s.waits == nil {
		s.waits = map[string][]time.Duration{}
	}
	s.waits[op] = append(s.waits[op], d)
	s.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

func (s *stalled) first(op string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waits[op]) == 0 {
		return 0, false
	}
	return s.waits[op][0], true
}

func (s *stalled) Owner(ctx context.Context, _ string) (ctrl.RegEntry, bool, error) {
	return ctrl.RegEntry{}, false, s.hang(ctx, "owner")
}
func (s *stalled) Register(ctx context.Context, e ctrl.RegEntry) (*ctrl.Lease, error) {
	return &ctrl.Lease{Entry: e}, s.hang(ctx, "register")
}
func (s *stalled) Refresh(ctx context.Context, ls []*ctrl.Lease) ([]*ctrl.Lease, error) {
	return ls, s.hang(ctx, "refresh")
}
func (s *stalled) Unregister(ctx context.Context, _ *ctrl.Lease) error {
	return s.hang(ctx, "unregister")
}
func (s *stalled) Lookup(ctx context.Context, _ string) ([]ctrl.RegEntry, error) {
	return nil, s.hang(ctx, "lookup")
}
func (s *stalled) Put(ctx context.Context, _, _ string) error    { return s.hang(ctx, "book put") }
func (s *stalled) Delete(ctx context.Context, _, _ string) error { return s.hang(ctx, "book delete") }
func (s *stalled) Nodes(ctx context.Context, _ string) ([]string, error) {
	return nil, s.hang(ctx, "book nodes")
}

// startWithRegistry starts an XCtrl with cfg whose registry and call book
// are the test's, on a bus of its own; it stops when the test ends.
func startWithRegistry(t *testing.T, e *ctrltest.Env, cfg ctrl.Config, reg ctrl.Registry, book ctrl.CallBook) *ctrl.Server {
	t.Helper()
	bus, closeBus, err := ctrl.DialBus(e.NATS.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	x, err := ctrl.New(cfg, ctrl.Deps{Bus: bus, Registry: reg, CallBook: book, Users: e.Users, Logger: ctrltest.Logger(t)})
	if err != nil {
		closeBus()
		t.Fatal(err)
	}
	if err := x.Start(e.Ctx); err != nil {
		closeBus()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = x.Shutdown(context.Background())
		closeBus()
	})
	return x
}

// While JetStream does not answer, a login waits for it at most
// JetStreamWait a step (the previous owner, the registry write, the call
// book) and succeeds (found by the chaos suite: with a NATS cluster member
// killed, logins hung 4 s on the owner lookup and 2 s on the call book, and
// new calls were not served for 5 s).
func TestLoginDoesNotWaitOnAStalledJetStream(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	st := &stalled{}
	x := startWithRegistry(t, e, e.Config(), st, st)
	e.Login(x, "1000") // fails the test if the login fails
	slack := 100 * time.Millisecond
	for _, op := range []string{"owner", "refresh", "book nodes"} {
		d, ok := st.first(op)
		if !ok {
			t.Errorf("the login did not ask the %s", op)
			continue
		}
		if d > ctrl.JetStreamWait+slack {
			t.Errorf("the login waited up to %v on the %s, want at most %v", d.Round(time.Millisecond), op, ctrl.JetStreamWait)
		}
	}
}

// A write that got "no response from stream" makes the registrar look for
// the bucket; while the bucket's replicas elect a leader that lookup hangs.
// Each attempt is bounded by EnsureWait, so that the leases are written
// again soon after the election ends (found by the chaos suite: 5 s attempts
// and the backoff left the registry incomplete 12 s after a member died).
func TestRegistrarLooksForTheBucketBriefly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := &stalled{}
	var (
		mu      sync.Mutex
		elected bool
		ensures []time.Duration
	)
	ensure := func(ctx context.Context) error {
		mu.Lock()
		done := elected
		mu.Unlock()
		if done {
			return nil
		}
		dl, _ := ctx.Deadline()
		mu.Lock()
		ensures = append(ensures, time.Until(dl))
		mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	reg := &electing{stalled: st, elected: func() bool { mu.Lock(); defer mu.Unlock(); return elected }}
	r := ctrl.NewRegistrar(reg, ensure, time.Minute, 2*time.Minute, ctrltest.Logger(t))
	go r.Run(ctx)
	if err := r.Add(ctx, &ctrl.Lease{Entry: ctrl.RegEntry{CtrlUUID: "c1", Sessid: "s1", Login: "1000@x"}}, time.Millisecond); err == nil {
		t.Fatal("a write landed during the election")
	}
	waitUntil(t, ctx, func() bool { mu.Lock(); defer mu.Unlock(); return len(ensures) >= 2 })
	mu.Lock()
	elected = true
	for _, d := range ensures {
		if d > ctrl.EnsureWait+100*time.Millisecond {
			t.Errorf("an attempt to find the bucket could wait %v, want at most %v", d.Round(time.Millisecond), ctrl.EnsureWait)
		}
	}
	mu.Unlock()
	waitUntil(t, ctx, r.Healthy)
}

// electing is a registry whose writes get "no response from stream" until
// the election is over.
type electing struct {
	*stalled
	elected func() bool
}

func (e *electing) Refresh(_ context.Context, ls []*ctrl.Lease) ([]*ctrl.Lease, error) {
	if e.elected() {
		return nil, nil
	}
	return ls, jetstream.ErrNoStreamResponse
}

func waitUntil(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never held")
		case <-time.After(10 * time.Millisecond): // polling a state with no event to wait on
		}
	}
}

// heldElsewhere is a registry in which one sessid is held by the same user
// on another instance, and whose write of that sessid waits until the test
// lets it go: a login of it is held between its checks and its binding.
// Its first write only; later ones (the registrar's refreshes) pass.
type heldElsewhere struct {
	sessid, login, owner string
	writing, release     chan struct{}
	once                 sync.Once
}

func (h *heldElsewhere) Owner(_ context.Context, sessid string) (ctrl.RegEntry, bool, error) {
	if sessid == h.sessid {
		return ctrl.RegEntry{CtrlUUID: h.owner, Sessid: sessid, Login: h.login}, true, nil
	}
	return ctrl.RegEntry{}, false, nil
}

func (h *heldElsewhere) Register(_ context.Context, e ctrl.RegEntry) (*ctrl.Lease, error) {
	return &ctrl.Lease{Entry: e}, nil
}

func (h *heldElsewhere) Refresh(ctx context.Context, ls []*ctrl.Lease) ([]*ctrl.Lease, error) {
	for _, l := range ls {
		first := false
		if l.Entry.Sessid == h.sessid {
			h.once.Do(func() { first = true })
		}
		if first {
			close(h.writing)
			select {
			case <-h.release:
			case <-ctx.Done():
			}
		}
	}
	return nil, nil
}
func (h *heldElsewhere) Unregister(context.Context, *ctrl.Lease) error           { return nil }
func (h *heldElsewhere) Lookup(context.Context, string) ([]ctrl.RegEntry, error) { return nil, nil }
func (h *heldElsewhere) Put(context.Context, string, string) error               { return nil }
func (h *heldElsewhere) Delete(context.Context, string, string) error            { return nil }
func (h *heldElsewhere) Nodes(context.Context, string) ([]string, error)         { return nil, nil }

// A login of a sessid another instance holds for the same user punts that
// instance's socket only when it is itself filed: one refused because the
// user's sockets here filled up meanwhile (two logins raced past the check)
// leaves the other socket alone. It punted it, and the user was left with
// neither.
func TestRefusedLoginPuntsNothing(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	login := "1000@" + ctrltest.Domain
	writing := make(chan struct{})
	reg := &heldElsewhere{sessid: "reloaded", login: login, owner: "ctrl-elsewhere",
		writing: writing, release: make(chan struct{})}
	cfg := e.Config()
	cfg.Limits.MaxSocketsPerUser = 1
	x := startWithRegistry(t, e, cfg, reg, reg)
	nc, err := nats.Connect(e.NATS.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	punts, err := nc.SubscribeSync(verto.DefaultSubjects().Ctrl(reg.owner))
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()

	held := e.DialSessid(x, reg.sessid)
	refused := make(chan error, 1)
	go func() {
		_, _, err := held.Client.Login(e.Ctx, login, ctrltest.Password, nil)
		refused <- err
	}()
	<-writing          // past the check on the user's sockets
	e.Login(x, "1000") // the user's one socket here
	close(reg.release) // the held login goes on: too many sockets
	if err := <-refused; err == nil || !strings.Contains(err.Error(), verto.MsgTooManySockets) {
		t.Fatalf("the second login: %v, want %s", err, verto.MsgTooManySockets)
	}
	_ = nc.Flush()
	if m, err := punts.NextMsg(300 * time.Millisecond); err == nil {
		t.Errorf("a refused login punted the sessid's socket on %s: %s", reg.owner, m.Data)
	}
}
