package ctrl

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Registrar keeps this instance's logged-in sockets in the Registry, come
// what may to the NATS behind it. It writes a socket's lease at login,
// re-writes every live lease before the TTL runs out, and retries whatever
// did not land (a JetStream leader election takes seconds) until it does:
// a registration is never dropped. When the bus or the bucket comes back
// (Republish) it writes every live lease at once, so that calls to users
// find them again in seconds, not at the next refresh.
type Registrar struct {
	reg     Registry
	ensure  func(context.Context) error // re-creates a missing bucket (nil: nothing to do)
	log     *slog.Logger
	refresh time.Duration
	ttl     time.Duration

	mu      sync.Mutex
	live    map[*Lease]struct{}
	dirty   map[*Lease]struct{}
	deletes map[*Lease]time.Time // leases to delete, with when to give up (the TTL removes them anyway)

	kick    chan struct{}
	healthy atomic.Bool
	missing atomic.Bool // the bucket was found gone: ensure before writing
	// catching is set while every live lease is being written again after
	// the bus or the bucket came back: lookups miss sockets meanwhile.
	catching atomic.Bool
	lastErr  atomic.Pointer[error]
}

// registrarRetry is the first wait before writing failed leases again; it
// doubles up to registrarRetryMax.
const (
	registrarRetry    = 100 * time.Millisecond
	registrarRetryMax = time.Second
)

// ensureWait bounds one attempt to find (or create) the bucket. A write that
// got "no response from stream" may mean a missing bucket, or a bucket whose
// replicas are electing a leader (a NATS cluster member died): then the
// lookup hangs until the election ends, seconds later. Short attempts,
// retried with the backoff, write the leases again soon after it ends.
const ensureWait = time.Second

// NewRegistrar returns a registrar on reg; Run makes it work.
func NewRegistrar(reg Registry, ensure func(context.Context) error, refresh, ttl time.Duration, log *slog.Logger) *Registrar {
	r := &Registrar{reg: reg, ensure: ensure, log: log, refresh: refresh, ttl: ttl,
		live: map[*Lease]struct{}{}, dirty: map[*Lease]struct{}{}, deletes: map[*Lease]time.Time{},
		kick: make(chan struct{}, 1)}
	r.healthy.Store(true)
	return r
}

// Healthy reports whether the last registry operation worked and no
// re-publish is under way: while it is false, calls to users may not find
// their sockets.
func (r *Registrar) Healthy() bool { return r.healthy.Load() && !r.catching.Load() }

// LastError is the last registry error (nil when healthy).
func (r *Registrar) LastError() error {
	if r.healthy.Load() {
		return nil
	}
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Add writes a new lease, waiting for it at most wait; if it did not land
// by then it stays queued and is written as soon as the registry takes it.
func (r *Registrar) Add(ctx context.Context, l *Lease, wait time.Duration) error {
	r.mu.Lock()
	r.live[l] = struct{}{}
	r.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if failed, err := r.reg.Refresh(wctx, []*Lease{l}); err != nil && len(failed) > 0 {
		r.noteErr(err)
		r.markDirty(l)
		return err
	}
	r.healthy.Store(true)
	return nil
}

// claimer is a Registry that registers a new socket and reads the
// previous holder of its sessid in one go (KVRegistry.Claim).
type claimer interface {
	Claim(ctx context.Context, l *Lease) (prev RegEntry, held bool, err error)
}

// Claim writes a new socket's lease and says who held its sessid before:
// held with the previous holder's entry (another login's: the lease is not
// kept, and the caller refuses the login). Each wait on the registry lasts
// at most wait; a write that did not land by then stays queued and is
// written as soon as the registry takes it (the previous holder is then
// unknown: held is false).
func (r *Registrar) Claim(ctx context.Context, l *Lease, wait time.Duration) (prev RegEntry, held bool, err error) {
	if c, ok := r.reg.(claimer); ok {
		r.mu.Lock()
		r.live[l] = struct{}{}
		r.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, wait)
		prev, held, err = c.Claim(wctx, l)
		cancel()
		switch {
		case err != nil:
			r.noteErr(err)
			r.markDirty(l)
			return RegEntry{}, false, err
		case held && prev.Login != l.Entry.Login:
			r.Forget(l)
		default:
			r.healthy.Store(true)
		}
		return prev, held, nil
	}
	// Any other registry: the holder first, then the write.
	octx, cancel := context.WithTimeout(ctx, wait)
	prev, held, err = r.reg.Owner(octx, l.Entry.Sessid)
	cancel()
	if err != nil {
		r.log.Error("registry owner lookup", "sessid", l.Entry.Sessid, "err", err)
		prev, held = RegEntry{}, false
	}
	if held && prev.Login != l.Entry.Login {
		return prev, held, nil
	}
	if werr := r.Add(ctx, l, wait); werr != nil {
		err = werr
	}
	return prev, held, err
}

// Forget stops keeping a lease without deleting its keys (another socket
// took its sessid over and wrote them).
func (r *Registrar) Forget(l *Lease) {
	r.mu.Lock()
	delete(r.live, l)
	delete(r.dirty, l)
	r.mu.Unlock()
}

// Remove forgets a lease and deletes its keys: at once, in the background,
// with the other deletes pending (a thousand sockets closing together cost
// one round trip, not a thousand); retried until the TTL would have removed
// them anyway.
func (r *Registrar) Remove(l *Lease) {
	r.mu.Lock()
	delete(r.live, l)
	delete(r.dirty, l)
	if l.revS.Load() != 0 || l.revU.Load() != 0 { // else never written
		r.deletes[l] = time.Now().Add(r.ttl)
	}
	r.mu.Unlock()
	r.poke()
}

// batchDeleter is a Registry that deletes many leases in one go
// (KVRegistry.UnregisterAll).
type batchDeleter interface {
	UnregisterAll(ctx context.Context, leases []*Lease) (failed []*Lease, err error)
}

// Drain waits until the pending deletes are done, at most until ctx ends:
// a stopping instance takes its sockets out of the registry before it
// leaves the bus.
func (r *Registrar) Drain(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		r.mu.Lock()
		n := len(r.deletes)
		r.mu.Unlock()
		if n == 0 {
			return
		}
		r.poke()
		select {
		case <-ctx.Done():
			r.log.Warn("registry: stopping with deletes not done; the TTL removes them", "leases", n)
			return
		case <-t.C:
		}
	}
}

// Republish writes every live lease again now: the bus or the bucket is
// back, and what it held may be gone. The registrar is not Healthy until
// they all landed.
func (r *Registrar) Republish() {
	r.catching.Store(true)
	r.markAll()
}

// markAll marks every live lease to be written again.
func (r *Registrar) markAll() {
	r.mu.Lock()
	for l := range r.live {
		r.dirty[l] = struct{}{}
	}
	r.mu.Unlock()
	r.poke()
}

// BucketGone says the bucket was found missing: the next write re-creates
// it first.
func (r *Registrar) BucketGone() {
	r.missing.Store(true)
	r.healthy.Store(false)
	r.Republish()
}

// Observe takes the outcome of a registry read: an error makes the
// registrar unhealthy (and a missing bucket is created again); a success
// after failures makes it healthy once nothing waits to be written.
func (r *Registrar) Observe(err error) {
	if err != nil {
		r.noteErr(err)
		if r.missing.Load() {
			r.poke()
		}
		return
	}
	if !r.healthy.Load() && r.Pending() == 0 && !r.missing.Load() {
		r.healthy.Store(true)
	}
}

// Pending is the number of leases waiting to be written.
func (r *Registrar) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.dirty)
}

// Live is the number of leases kept.
func (r *Registrar) Live() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.live)
}

func (r *Registrar) markDirty(l *Lease) {
	r.mu.Lock()
	if _, ok := r.live[l]; ok {
		r.dirty[l] = struct{}{}
	}
	r.mu.Unlock()
	r.poke()
}

func (r *Registrar) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Registrar) noteErr(err error) {
	r.lastErr.Store(&err)
	r.healthy.Store(false)
	if BucketMissing(err) {
		r.missing.Store(true)
	}
}

// Run refreshes and retries until ctx ends.
func (r *Registrar) Run(ctx context.Context) { syncLoop(ctx, r.refresh, r.kick, r.markAll, r.sync) }

// syncLoop runs sync whenever kick fires, and after tick each period; while
// sync reports that something did not land it runs again, backing off from
// registrarRetry to registrarRetryMax.
func syncLoop(ctx context.Context, period time.Duration, kick <-chan struct{}, tick func(), sync func(context.Context) bool) {
	t := time.NewTicker(period)
	defer t.Stop()
	var retry <-chan time.Time
	backoff := registrarRetry
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tick()
		case <-kick:
		case <-retry:
		}
		retry = nil
		if sync(ctx) {
			backoff = registrarRetry
			continue
		}
		retry = time.After(backoff)
		backoff = min(2*backoff, registrarRetryMax)
	}
}

// sync writes the dirty leases and the pending deletes once; it reports
// whether everything landed.
func (r *Registrar) sync(ctx context.Context) bool {
	if r.missing.Load() && r.ensure != nil {
		ectx, cancel := context.WithTimeout(ctx, ensureWait)
		err := r.ensure(ectx)
		cancel()
		if err != nil {
			r.noteErr(err)
			r.log.Warn("registry: bucket not available", "err", err)
			return false
		}
		r.missing.Store(false)
		r.log.Info("registry: bucket available again; re-publishing this instance's sockets")
		r.Republish()
	}
	r.mu.Lock()
	batch := make([]*Lease, 0, len(r.dirty))
	for l := range r.dirty {
		batch = append(batch, l)
	}
	clear(r.dirty)
	now := time.Now()
	var dels []*Lease
	for l, until := range r.deletes {
		if now.After(until) {
			delete(r.deletes, l)
			continue
		}
		dels = append(dels, l)
	}
	r.mu.Unlock()
	ok := true
	if len(batch) > 0 {
		wctx, cancel := context.WithTimeout(ctx, max(r.refresh/2, time.Second))
		failed, err := r.reg.Refresh(wctx, batch)
		cancel()
		if err != nil {
			ok = false
			r.noteErr(err)
			for _, l := range failed {
				r.markDirty(l)
			}
			r.log.Warn("registry write failed; retrying", "leases", len(failed), "of", len(batch), "err", err)
		}
	}
	if len(dels) > 0 && !r.unregister(ctx, dels) {
		ok = false
	}
	if ok {
		r.healthy.Store(true)
		r.mu.Lock()
		if len(r.dirty) == 0 {
			r.catching.Store(false)
		}
		r.mu.Unlock()
	}
	return ok
}

// unregister deletes the keys of dels; those deleted leave the pending
// deletes. It reports whether all were.
func (r *Registrar) unregister(ctx context.Context, dels []*Lease) bool {
	dctx, cancel := context.WithTimeout(ctx, max(r.refresh/2, time.Second))
	defer cancel()
	var failed []*Lease
	var err error
	if b, ok := r.reg.(batchDeleter); ok {
		failed, err = b.UnregisterAll(dctx, dels)
	} else {
		for _, l := range dels {
			if e := r.reg.Unregister(dctx, l); e != nil {
				failed, err = append(failed, l), e
			}
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		r.log.Warn("registry unregister failed; retrying", "leases", len(failed), "of", len(dels), "err", err)
	}
	left := make(map[*Lease]bool, len(failed))
	for _, l := range failed {
		left[l] = true
	}
	r.mu.Lock()
	for _, l := range dels {
		if !left[l] {
			delete(r.deletes, l)
		}
	}
	r.mu.Unlock()
	return len(failed) == 0
}
