package ctrl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/verto"
)

// Bus is XCtrl's view of NATS: publish, subscribe, queue-subscribe. Requests
// are built on top (Requests) with one shared reply subscription.
type Bus interface {
	// Publish sends data to subject; reply, when not "", is the subject the
	// receiver answers to.
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
type natsBus struct {
	nc   *nats.Conn
	ch   chan *nats.Msg
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.RWMutex
	handlers map[*nats.Subscription]func(*BusMsg)
}

// busQueue is the dispatch channel's capacity: beyond it nats.go reports a
// slow consumer and drops.
const busQueue = 1 << 17

func newNATSBus(nc *nats.Conn) *natsBus {
	b := &natsBus{nc: nc, ch: make(chan *nats.Msg, busQueue), done: make(chan struct{}),
		handlers: make(map[*nats.Subscription]func(*BusMsg))}
	b.wg.Add(1)
	go b.run()
	return b
}

func (b *natsBus) run() {
	defer b.wg.Done()
	for {
		select {
		case m := <-b.ch:
			b.mu.RLock()
			h := b.handlers[m.Sub]
			b.mu.RUnlock()
			if h != nil {
				h(busMsg(m))
			}
		case <-b.done:
			return
		}
	}
}

// close stops the dispatcher; subscriptions should be gone first.
func (b *natsBus) close() {
	close(b.done)
	b.wg.Wait()
}

func (b *natsBus) Publish(subject, reply string, data []byte) error {
	// Whatever slipped past the checks at the edge, a subject NATS would
	// refuse (and close the connection over) never reaches the server.
	if err := verto.CheckSubject(subject); err != nil {
		return fmt.Errorf("ctrl: publish: %w", err)
	}
	if reply != "" {
		if err := verto.CheckSubject(reply); err != nil {
			return fmt.Errorf("ctrl: publish %s: reply %w", subject, err)
		}
	}
	if reply == "" {
		return b.nc.Publish(subject, data)
	}
	return b.nc.PublishRequest(subject, reply, data)
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
	var (
		sub *nats.Subscription
		err error
	)
	if queue == "" {
		sub, err = b.nc.ChanSubscribe(subject, b.ch)
	} else {
		sub, err = b.nc.ChanQueueSubscribe(subject, queue, b.ch)
	}
	if err != nil {
		return nil, err
	}
	b.handlers[sub] = h
	return &natsSub{b: b, sub: sub}, nil
}

type natsSub struct {
	b   *natsBus
	sub *nats.Subscription
}

func (s *natsSub) Unsubscribe() error {
	err := s.sub.Unsubscribe()
	s.b.mu.Lock()
	delete(s.b.handlers, s.sub)
	s.b.mu.Unlock()
	return err
}

func (b *natsBus) NewInbox() string { return b.nc.NewInbox() }

func (b *natsBus) Flush(ctx context.Context) error { return b.nc.FlushWithContext(ctx) }

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
	pending map[uint64]*pendingReq
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
	r := &Requests{bus: bus, pending: make(map[uint64]*pendingReq), stop: make(chan struct{}), stopped: make(chan struct{})}
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
// not block.
func (r *Requests) Send(subject string, id uint64, data []byte, timeout time.Duration, cb func(*BusMsg, error)) {
	p := &pendingReq{cb: cb, deadline: time.Now().Add(timeout).UnixNano()}
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
	r.pending = make(map[uint64]*pendingReq)
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
