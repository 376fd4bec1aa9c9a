package ctrl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/verto"
)

// Bus is XCtrl's view of NATS: publish, subscribe, queue-subscribe. Requests
// are built on top (Requests) with one shared reply subscription.
type Bus interface {
	// Publish sends data to subject; reply, when not "", is the subject the
	// receiver answers to. data is not kept: the caller may reuse it once
	// Publish returns.
	Publish(subject, reply string, data []byte) error
	Subscribe(subject string, h func(*BusMsg)) (Subscription, error)
	QueueSubscribe(subject, queue string, h func(*BusMsg)) (Subscription, error)
	// NewInbox returns a fresh subject under which replies can be received.
	NewInbox() string
	// Flush waits until everything published so far reached the server.
	Flush(ctx context.Context) error
}

// BusMsg is one message received from the bus.
type BusMsg struct {
	Subject string
	Reply   string
	Data    []byte
	// NoResponders is set on a reply that says nobody listens on the
	// request's subject.
	NoResponders bool
}

// Subscription is a live subscription.
type Subscription interface {
	Unsubscribe() error
}

// natsBus implements Bus on a nats.go connection. Every subscription feeds
// one channel that one goroutine drains, so handlers run one at a time and
// in the order the server delivered the messages, across subjects: a node's
// reply to a relayed verto.invite is handled before the verto.answer it
// published after it. Handlers must not block.
//
// nats.go reconnects a dropped connection by itself, but it closes one for
// good on some server errors (a control line over the server's limit, an
// authorization change). natsBus then dials a new connection, re-creates
// every subscription on it and tells its listeners, so that XCtrl is never
// left off the bus while it goes on taking logins.
type natsBus struct {
	dial func() (*nats.Conn, error)
	log  *slog.Logger
	ch   chan *nats.Msg
	done chan struct{}
	// ran is closed when the dispatcher (run) has returned.
	ran chan struct{}
	wg  sync.WaitGroup

	mu      sync.RWMutex
	nc      *nats.Conn
	subs    map[*busSub]struct{}
	bySub   map[*nats.Subscription]*busSub
	onUp    []func(nc *nats.Conn, fresh bool)
	onDown  []func()
	redials atomic.Int64

	closing  atomic.Bool
	stopOnce sync.Once
	// offSince is when the bus lost its server (unix nanos), 0 while
	// connected.
	offSince atomic.Int64
	// wasOff is set whenever the bus loses its server; the node sweep
	// takes it (TakeWasOff) to know that silence meanwhile was its own.
	wasOff atomic.Bool
	// settling counts OnUp listeners still running after a reconnect.
	settling atomic.Int32
}

type busSub struct {
	subject, queue string
	h              func(*BusMsg)
	sub            *nats.Subscription
}

// busQueue is the dispatch channel's capacity: beyond it nats.go reports a
// slow consumer and drops.
const busQueue = 1 << 17

// busRedialMax caps the wait between two attempts to dial a new connection.
const busRedialMax = 5 * time.Second

// dialNATSBus connects with opts (plus the bus's own handlers) and keeps the
// bus connected for good. While no server answers (XCtrl booted before its
// NATS) it tries again until ctx ends; a server that refuses it (its
// credentials) ends the wait at once.
func dialNATSBus(ctx context.Context, url string, log *slog.Logger, opts ...nats.Option) (*natsBus, error) {
	b := &natsBus{log: log, ch: make(chan *nats.Msg, busQueue), done: make(chan struct{}), ran: make(chan struct{}),
		subs: make(map[*busSub]struct{}), bySub: make(map[*nats.Subscription]*busSub)}
	all := append([]nats.Option{
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if b.closing.Load() {
				return
			}
			b.offSince.CompareAndSwap(0, time.Now().UnixNano())
			b.wasOff.Store(true)
			log.Warn("nats disconnected; calls keep their media, reconnecting", "err", err)
			b.down()
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.offSince.Store(0)
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			b.up(nc, false)
		}),
		nats.ClosedHandler(b.closedForGood),
	}, opts...)
	b.dial = func() (*nats.Conn, error) { return nats.Connect(url, all...) }
	nc, err := b.firstDial(ctx)
	if err != nil {
		return nil, err
	}
	b.nc = nc
	b.wg.Add(1)
	go b.run()
	return b, nil
}

// firstDial connects, waiting for a server to answer until ctx ends.
func (b *natsBus) firstDial(ctx context.Context) (*nats.Conn, error) {
	var logged time.Time
	wait := backoff{100 * time.Millisecond, busRedialMax}
	for {
		nc, err := b.dial()
		if err == nil || !errors.Is(err, nats.ErrNoServers) {
			return nc, err
		}
		if time.Since(logged) >= 5*time.Second {
			logged = time.Now()
			b.log.Warn("nats: no server answers yet; waiting", "err", err)
		}
		if !wait.sleep(ctx.Done()) {
			return nil, err
		}
	}
}

// closedForGood replaces a connection nats.go will not reconnect.
func (b *natsBus) closedForGood(nc *nats.Conn) {
	if b.closing.Load() {
		return
	}
	b.offSince.CompareAndSwap(0, time.Now().UnixNano())
	b.wasOff.Store(true)
	b.log.Error("nats connection closed for good; dialing a new one", "err", nc.LastError())
	b.down()
	b.wg.Add(1)
	go b.redial(nc)
}

// OnDown registers f, called each time the bus loses its server, before
// anything is sent again: what the server held may be gone when it is
// back. f runs on nats.go's callback goroutine and must not block.
func (b *natsBus) OnDown(f func()) {
	b.mu.Lock()
	b.onDown = append(b.onDown, f)
	b.mu.Unlock()
}

func (b *natsBus) down() {
	b.mu.RLock()
	fs := slices.Clone(b.onDown)
	b.mu.RUnlock()
	for _, f := range fs {
		f()
	}
}

// OnUp registers f, called (on its own goroutine) each time the bus is back:
// after nats.go reconnected the connection (fresh false) or after a new
// connection replaced one closed for good (fresh true). The server behind
// may have restarted: state kept there (the registry) must be checked.
func (b *natsBus) OnUp(f func(nc *nats.Conn, fresh bool)) {
	b.mu.Lock()
	b.onUp = append(b.onUp, f)
	b.mu.Unlock()
}

func (b *natsBus) up(nc *nats.Conn, fresh bool) {
	b.mu.RLock()
	fs := slices.Clone(b.onUp)
	b.mu.RUnlock()
	for _, f := range fs {
		b.wg.Add(1)
		b.settling.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.settling.Add(-1)
			f(nc, fresh)
		}()
	}
}

// Ready reports whether the bus is connected and the OnUp listeners have
// finished catching up after the last reconnect.
func (b *natsBus) Ready() bool { return b.Connected() && b.settling.Load() == 0 }

// redial replaces a connection nats.go closed for good: dial until it
// works, re-create every subscription, swap, tell the listeners.
func (b *natsBus) redial(old *nats.Conn) {
	defer b.wg.Done()
	wait := backoff{100 * time.Millisecond, busRedialMax}
	for {
		if b.closing.Load() {
			return
		}
		nc, err := b.dial()
		if err == nil {
			if err = b.swap(old, nc); err == nil {
				b.redials.Add(1)
				b.offSince.Store(0)
				b.log.Info("nats: new connection, subscriptions restored", "url", nc.ConnectedUrlRedacted())
				b.up(nc, true)
				return
			}
			nc.Close()
		}
		b.log.Warn("nats: dial failed; retrying", "err", err, "in", wait.next)
		if !wait.sleep(b.done) {
			return
		}
	}
}

func (b *natsBus) swap(old, nc *nats.Conn) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing.Load() {
		return ErrClosed
	}
	if b.nc != old {
		return nil // someone else swapped already
	}
	bySub := make(map[*nats.Subscription]*busSub, len(b.subs))
	for s := range b.subs {
		sub, err := chanSubscribe(nc, s.subject, s.queue, b.ch)
		if err != nil {
			return fmt.Errorf("ctrl: resubscribe %s: %w", s.subject, err)
		}
		s.sub = sub
		bySub[sub] = s
	}
	b.bySub = bySub
	b.nc = nc
	return nil
}

func chanSubscribe(nc *nats.Conn, subject, queue string, ch chan *nats.Msg) (*nats.Subscription, error) {
	if queue == "" {
		return nc.ChanSubscribe(subject, ch)
	}
	return nc.ChanQueueSubscribe(subject, queue, ch)
}

// conn is the connection in use.
func (b *natsBus) conn() *nats.Conn {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.nc
}

// TakeWasOff reports whether the bus lost its server since the last call.
func (b *natsBus) TakeWasOff() bool { return b.wasOff.Swap(false) }

// Connected reports whether the bus can reach a server now.
func (b *natsBus) Connected() bool { return b.conn().IsConnected() }

// OffFor is how long the bus has been without a server (0 while connected).
func (b *natsBus) OffFor(now time.Time) time.Duration {
	if t := b.offSince.Load(); t != 0 {
		return now.Sub(time.Unix(0, t))
	}
	return 0
}

func (b *natsBus) run() {
	defer b.wg.Done()
	defer close(b.ran)
	for {
		select {
		case m := <-b.ch:
			b.mu.RLock()
			s := b.bySub[m.Sub]
			b.mu.RUnlock()
			if s != nil {
				s.h(busMsg(m))
			}
		case <-b.done:
			return
		}
	}
}

// stopDispatch stops handing messages to the handlers and waits for the
// one running, if any: none runs after it returns. The connection stays up
// for what is still being sent. Not to be called from a handler.
func (b *natsBus) stopDispatch() {
	b.closing.Store(true)
	b.stopOnce.Do(func() { close(b.done) })
	<-b.ran
}

// close stops the dispatcher, flushes and closes the connection and waits
// for the bus's goroutines; subscriptions should be gone first.
func (b *natsBus) close() {
	b.stopDispatch()
	nc := b.conn()
	if nc.IsConnected() {
		_ = nc.FlushTimeout(time.Second)
	}
	nc.Close()
	b.wg.Wait()
}

func (b *natsBus) Publish(subject, reply string, data []byte) error {
	// Whatever slipped past the checks at the edge, a subject NATS would
	// refuse (and close the connection over) never reaches the server.
	if err := verto.CheckSubject(subject); err != nil {
		return fmt.Errorf("ctrl: publish: %w", err)
	}
	nc := b.conn()
	if reply == "" {
		return nc.Publish(subject, data)
	}
	if err := verto.CheckSubject(reply); err != nil {
		return fmt.Errorf("ctrl: publish %s: reply %w", subject, err)
	}
	return nc.PublishRequest(subject, reply, data)
}

func (b *natsBus) Subscribe(subject string, h func(*BusMsg)) (Subscription, error) {
	return b.subscribe(subject, "", h)
}

func (b *natsBus) QueueSubscribe(subject, queue string, h func(*BusMsg)) (Subscription, error) {
	return b.subscribe(subject, queue, h)
}

func (b *natsBus) subscribe(subject, queue string, h func(*BusMsg)) (Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sub, err := chanSubscribe(b.nc, subject, queue, b.ch)
	if err != nil {
		return nil, err
	}
	s := &busSub{subject: subject, queue: queue, h: h, sub: sub}
	b.subs[s] = struct{}{}
	b.bySub[sub] = s
	return &natsSub{b: b, s: s}, nil
}

type natsSub struct {
	b *natsBus
	s *busSub
}

func (s *natsSub) Unsubscribe() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	delete(s.b.subs, s.s)
	delete(s.b.bySub, s.s.sub)
	return s.s.sub.Unsubscribe()
}

func (b *natsBus) NewInbox() string { return b.conn().NewInbox() }

func (b *natsBus) Flush(ctx context.Context) error { return b.conn().FlushWithContext(ctx) }

func busMsg(m *nats.Msg) *BusMsg {
	bm := &BusMsg{Subject: m.Subject, Reply: m.Reply, Data: m.Data}
	if len(m.Data) == 0 && m.Header != nil && m.Header.Get("Status") == "503" {
		bm.NoResponders = true
	}
	return bm
}

// Errors of a request made through Requests.
var (
	// ErrTimeout: no reply came in time.
	ErrTimeout = errors.New("ctrl: request timed out")
	// ErrNoResponders: nobody subscribes to the request's subject.
	ErrNoResponders = errors.New("ctrl: no responders")
	// ErrClosed: the server is shutting down.
	ErrClosed = errors.New("ctrl: closed")
)

// Requests sends bus requests without blocking the sender: every reply comes
// back on one wildcard subscription (one inbox for the whole process, like
// nats.go's own request mux) and is handed to the request's callback. A
// socket's messages therefore leave in the order the client sent them, and a
// slow node never holds up a socket's reader.
type Requests struct {
	bus    Bus
	prefix string // "<inbox>."
	sub    Subscription

	mu      sync.Mutex
	next    uint64
	pending map[uint64]pendingReq
	closed  bool

	stop, stopped chan struct{}
}

type pendingReq struct {
	cb       func(*BusMsg, error)
	deadline int64 // unix nanos
}

// sweepEvery is the resolution of request timeouts: one goroutine looks for
// expired requests this often, instead of a timer per request.
const sweepEvery = 25 * time.Millisecond

// NewRequests subscribes the shared reply inbox.
func NewRequests(bus Bus) (*Requests, error) {
	r := &Requests{bus: bus, pending: make(map[uint64]pendingReq), stop: make(chan struct{}), stopped: make(chan struct{})}
	r.prefix = bus.NewInbox() + "."
	sub, err := bus.Subscribe(r.prefix+"*", r.onReply)
	if err != nil {
		return nil, fmt.Errorf("ctrl: reply inbox: %w", err)
	}
	r.sub = sub
	go r.sweep()
	return r, nil
}

// sweep fails the requests whose deadline passed.
func (r *Requests) sweep() {
	defer close(r.stopped)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var expired []uint64
	for {
		select {
		case now := <-t.C:
			n := now.UnixNano()
			expired = expired[:0]
			r.mu.Lock()
			for id, p := range r.pending {
				if n >= p.deadline {
					expired = append(expired, id)
				}
			}
			r.mu.Unlock()
			for _, id := range expired {
				r.finish(id, nil, ErrTimeout)
			}
		case <-r.stop:
			return
		}
	}
}

// NextID reserves a request id; use it as the JSON-RPC id of the payload
// passed to Send.
func (r *Requests) NextID() uint64 {
	r.mu.Lock()
	r.next++
	n := r.next
	r.mu.Unlock()
	return n
}

// Send publishes data to subject as request id and calls cb exactly once:
// with the reply, or with ErrTimeout, ErrNoResponders or ErrClosed. cb runs
// on the reply subscription's goroutine (or the timeout sweeper's): it must
// not block. data is published before Send returns: the caller may reuse
// it then.
func (r *Requests) Send(subject string, id uint64, data []byte, timeout time.Duration, cb func(*BusMsg, error)) {
	p := pendingReq{cb: cb, deadline: time.Now().Add(timeout).UnixNano()}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cb(nil, ErrClosed)
		return
	}
	r.pending[id] = p
	r.mu.Unlock()
	if err := r.bus.Publish(subject, r.prefix+strconv.FormatUint(id, 10), data); err != nil {
		r.finish(id, nil, fmt.Errorf("ctrl: publish %s: %w", subject, err))
	}
}

// Do sends a request and waits for its reply.
func (r *Requests) Do(ctx context.Context, subject string, id uint64, data []byte, timeout time.Duration) (*BusMsg, error) {
	type answer struct {
		m   *BusMsg
		err error
	}
	ch := make(chan answer, 1)
	r.Send(subject, id, data, timeout, func(m *BusMsg, err error) { ch <- answer{m, err} })
	select {
	case a := <-ch:
		return a.m, a.err
	case <-ctx.Done():
		r.finish(id, nil, ctx.Err())
		return nil, ctx.Err()
	}
}

func (r *Requests) onReply(m *BusMsg) {
	id, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, r.prefix), 10, 64)
	if err != nil {
		return
	}
	if m.NoResponders {
		r.finish(id, nil, ErrNoResponders)
		return
	}
	r.finish(id, m, nil)
}

func (r *Requests) finish(id uint64, m *BusMsg, err error) {
	r.mu.Lock()
	p, ok := r.pending[id]
	if ok {
		delete(r.pending, id)
	}
	r.mu.Unlock()
	if !ok {
		return
	}
	p.cb(m, err)
}

// Pending is the number of requests waiting for a reply.
func (r *Requests) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Close fails every pending request with ErrClosed and drops the inbox.
func (r *Requests) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	ps := r.pending
	r.pending = make(map[uint64]pendingReq)
	r.mu.Unlock()
	close(r.stop)
	<-r.stopped
	for _, p := range ps {
		p.cb(nil, ErrClosed)
	}
	if r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}
