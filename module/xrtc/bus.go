package xrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/verto"
)

// Bus is the endpoint's view of NATS: publish, request and (queue)
// subscribe. NATSBus is the real one; benchmarks and fuzzing use a fake so
// that they measure the endpoint and not the network.
type Bus interface {
	// Publish sends data to subject. It fails at once when the message
	// cannot be sent (disconnected, closed): the caller then fails the call
	// the message was about instead of leaving it hanging.
	Publish(subject string, data []byte) error
	// Request sends data to subject and waits for one reply or ctx.
	Request(ctx context.Context, subject string, data []byte) ([]byte, error)
	// Subscribe calls h for each message on subject; a non-empty queue makes
	// it a queue subscription. h must not block for long.
	Subscribe(subject, queue string, h func(subject, reply string, data []byte)) (unsubscribe func(), err error)
	// Status describes the connection for `xrtc status`.
	Status() string
	// Close drains and closes the connection.
	Close()
}

// ErrNoResponders is returned by Request when nobody listens on the subject.
var ErrNoResponders = nats.ErrNoResponders

// NATSBus is a Bus on a nats.go connection that reconnects forever and logs
// every disconnect and reconnect. nats.go closes a connection for good on
// some server errors (a control line over the limit, an authorization
// change); NATSBus then dials a new one and subscribes everything again, so
// that the node never stays off the bus while FreeSWITCH runs.
type NATSBus struct {
	dial func() (*nats.Conn, error)
	log  *slog.Logger
	o    NATSOptions

	mu   sync.RWMutex
	nc   *nats.Conn
	subs map[*natsSub]struct{}

	reconnects, redials atomic.Int64
	closing             atomic.Bool
	done                chan struct{}
	wg                  sync.WaitGroup
}

type natsSub struct {
	subject, queue string
	cb             nats.MsgHandler
	sub            *nats.Subscription
}

// NATSOptions tune DialNATS.
type NATSOptions struct {
	Name          string        // connection name shown by the server
	ReconnectWait time.Duration // between reconnect attempts; 0 = 1 s
	Log           *slog.Logger
	// Reconnected, if set, is called (on its own goroutine) after each
	// reconnect, and after a new connection replaced one closed for good.
	Reconnected func()
	// Auth are the credentials and TLS options of the connection.
	Auth []nats.Option
}

// DialNATS connects to the first reachable of urls and keeps reconnecting
// forever. Messages published while disconnected are not buffered: Publish
// fails, so that the endpoint fails the one call concerned cleanly.
func DialNATS(urls []string, o NATSOptions) (*NATSBus, error) {
	if len(urls) == 0 {
		urls = []string{nats.DefaultURL}
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = time.Second
	}
	b := &NATSBus{log: log, o: o, subs: map[*natsSub]struct{}{}, done: make(chan struct{})}
	opts := append([]nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/10, wait/10),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			if err == nil && c.IsClosed() {
				return // our own Close: the closed handler says so
			}
			log.Warn("xrtc: NATS disconnected; calls keep their media, reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.reconnects.Add(1)
			log.Info("xrtc: NATS reconnected", "url", c.ConnectedUrlRedacted())
			b.reconnected()
		}),
		nats.ClosedHandler(b.closedForGood),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Error("xrtc: NATS error", "subject", subj, "err", err)
		}),
	}, o.Auth...)
	url := strings.Join(urls, ",")
	b.dial = func() (*nats.Conn, error) { return nats.Connect(url, opts...) }
	// The first connection may wait for a server that is not up yet.
	nc, err := nats.Connect(url, append(opts, nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return nil, fmt.Errorf("xrtc: NATS %s: %w", url, err)
	}
	b.nc = nc
	return b, nil
}

func (b *NATSBus) reconnected() {
	if b.o.Reconnected != nil {
		go b.o.Reconnected()
	}
}

// closedForGood dials a new connection in place of one nats.go will not
// reconnect, unless the bus is being closed.
func (b *NATSBus) closedForGood(nc *nats.Conn) {
	if b.closing.Load() {
		b.log.Info("xrtc: NATS connection closed")
		return
	}
	b.log.Error("xrtc: NATS connection closed for good; dialing a new one", "err", nc.LastError())
	b.wg.Add(1)
	go b.redial(nc)
}

func (b *NATSBus) redial(old *nats.Conn) {
	defer b.wg.Done()
	wait := 100 * time.Millisecond
	for !b.closing.Load() {
		nc, err := b.dial()
		if err == nil {
			if err = b.swap(old, nc); err == nil {
				b.redials.Add(1)
				b.log.Info("xrtc: NATS: new connection, subscriptions restored", "url", nc.ConnectedUrlRedacted())
				b.reconnected()
				return
			}
			nc.Close()
		}
		b.log.Warn("xrtc: NATS dial failed; retrying", "err", err, "in", wait)
		select {
		case <-b.done:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (b *NATSBus) swap(old, nc *nats.Conn) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nc != old {
		return nil
	}
	for s := range b.subs {
		sub, err := subscribe(nc, s)
		if err != nil {
			return fmt.Errorf("xrtc: resubscribe %s: %w", s.subject, err)
		}
		s.sub = sub
	}
	b.nc = nc
	return nil
}

func subscribe(nc *nats.Conn, s *natsSub) (*nats.Subscription, error) {
	var (
		sub *nats.Subscription
		err error
	)
	if s.queue != "" {
		sub, err = nc.QueueSubscribe(s.subject, s.queue, s.cb)
	} else {
		sub, err = nc.Subscribe(s.subject, s.cb)
	}
	if err != nil {
		return nil, err
	}
	// Unlimited pending: a burst must not make the server drop messages for
	// a slow consumer; handlers only queue work.
	_ = sub.SetPendingLimits(-1, -1)
	return sub, nil
}

// Conn returns the connection in use.
func (b *NATSBus) Conn() *nats.Conn {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.nc
}

// Connected reports whether the bus reaches a server now.
func (b *NATSBus) Connected() bool { return b.Conn().IsConnected() }

// Publish implements Bus.
func (b *NATSBus) Publish(subject string, data []byte) error {
	// A subject NATS would refuse (and close the connection over) never
	// reaches the server, whatever slipped past the checks at the edge.
	if err := verto.CheckSubject(subject); err != nil {
		return fmt.Errorf("xrtc: publish: %w", err)
	}
	nc := b.Conn()
	if !nc.IsConnected() {
		return fmt.Errorf("xrtc: publish %s: %w", subject, nats.ErrConnectionReconnecting)
	}
	return nc.Publish(subject, data)
}

// Request implements Bus.
func (b *NATSBus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if err := verto.CheckSubject(subject); err != nil {
		return nil, fmt.Errorf("xrtc: request: %w", err)
	}
	nc := b.Conn()
	if !nc.IsConnected() {
		return nil, fmt.Errorf("xrtc: request %s: %w", subject, nats.ErrConnectionReconnecting)
	}
	m, err := nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		if errors.Is(err, nats.ErrTimeout) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return nil, err
	}
	return m.Data, nil
}

// Subscribe implements Bus.
func (b *NATSBus) Subscribe(subject, queue string, h func(subject, reply string, data []byte)) (func(), error) {
	s := &natsSub{subject: subject, queue: queue, cb: func(m *nats.Msg) { h(m.Subject, m.Reply, m.Data) }}
	b.mu.Lock()
	nc := b.nc
	sub, err := subscribe(nc, s)
	if err != nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("xrtc: subscribe %s: %w", subject, err)
	}
	s.sub = sub
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	if nc.IsConnected() {
		// The server knows the subscription once Subscribe returns.
		_ = nc.FlushTimeout(2 * time.Second)
	}
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		sub := s.sub
		nc := b.nc
		b.mu.Unlock()
		if !nc.IsConnected() {
			_ = sub.Unsubscribe() // nothing can be in flight
			return
		}
		drain(sub)
	}, nil
}

// drainWait bounds how long unsubscribing waits for the messages in flight.
const drainWait = 2 * time.Second

// drain removes the subscription's interest and handles what the server
// sent before it learnt that, so that a request in flight gets its answer
// (an error, when the endpoint is stopping) instead of a timeout at the
// requester. It waits for that, at most drainWait.
func drain(s *nats.Subscription) {
	closed := s.StatusChanged(nats.SubscriptionClosed)
	if err := s.Drain(); err != nil {
		_ = s.Unsubscribe()
		return
	}
	select {
	case <-closed:
	case <-time.After(drainWait):
		_ = s.Unsubscribe()
	}
}

// Status implements Bus.
func (b *NATSBus) Status() string {
	nc := b.Conn()
	url := nc.ConnectedUrlRedacted()
	if url == "" {
		url = "-"
	}
	return fmt.Sprintf("%s %s (reconnects %d, new connections %d)", nc.Status(), url, b.reconnects.Load(), b.redials.Load())
}

// Close implements Bus.
func (b *NATSBus) Close() {
	if b.closing.Swap(true) {
		return
	}
	close(b.done)
	nc := b.Conn()
	if nc.IsConnected() {
		_ = nc.FlushTimeout(time.Second)
	}
	nc.Close()
	b.wg.Wait()
}
