package xrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
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
// every disconnect and reconnect.
type NATSBus struct {
	nc         *nats.Conn
	reconnects atomic.Int64
	log        *slog.Logger
}

// NATSOptions tune DialNATS.
type NATSOptions struct {
	Name          string        // connection name shown by the server
	ReconnectWait time.Duration // between reconnect attempts; 0 = 1 s
	Log           *slog.Logger
	// Reconnected, if set, is called (on its own goroutine) after each
	// reconnect.
	Reconnected func()
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
	b := &NATSBus{log: log}
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/10, wait/10),
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(c *nats.Conn, err error) {
			if err == nil && c.IsClosed() {
				return // our own Close: the closed handler says so
			}
			log.Warn("xrtc: NATS disconnected; calls keep their media, reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.reconnects.Add(1)
			log.Info("xrtc: NATS reconnected", "url", c.ConnectedUrlRedacted())
			if o.Reconnected != nil {
				go o.Reconnected()
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Info("xrtc: NATS connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Error("xrtc: NATS error", "subject", subj, "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("xrtc: NATS %s: %w", strings.Join(urls, ","), err)
	}
	b.nc = nc
	return b, nil
}

// Conn returns the underlying connection.
func (b *NATSBus) Conn() *nats.Conn { return b.nc }

// Publish implements Bus.
func (b *NATSBus) Publish(subject string, data []byte) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("xrtc: publish %s: %w", subject, nats.ErrConnectionReconnecting)
	}
	return b.nc.Publish(subject, data)
}

// Request implements Bus.
func (b *NATSBus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if !b.nc.IsConnected() {
		return nil, fmt.Errorf("xrtc: request %s: %w", subject, nats.ErrConnectionReconnecting)
	}
	m, err := b.nc.RequestWithContext(ctx, subject, data)
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
	cb := func(m *nats.Msg) { h(m.Subject, m.Reply, m.Data) }
	var s *nats.Subscription
	var err error
	if queue != "" {
		s, err = b.nc.QueueSubscribe(subject, queue, cb)
	} else {
		s, err = b.nc.Subscribe(subject, cb)
	}
	if err != nil {
		return nil, fmt.Errorf("xrtc: subscribe %s: %w", subject, err)
	}
	// Unlimited pending: a burst must not make the server drop messages for
	// a slow consumer; handlers only queue work.
	_ = s.SetPendingLimits(-1, -1)
	if b.nc.IsConnected() {
		// The server knows the subscription once Subscribe returns.
		_ = b.nc.FlushTimeout(2 * time.Second)
	}
	return func() {
		if !b.nc.IsConnected() {
			_ = s.Unsubscribe() // nothing can be in flight
			return
		}
		drain(s)
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
	url := b.nc.ConnectedUrlRedacted()
	if url == "" {
		url = "-"
	}
	return fmt.Sprintf("%s %s (reconnects %d)", b.nc.Status(), url, b.reconnects.Load())
}

// Close implements Bus.
func (b *NATSBus) Close() {
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(time.Second)
	}
	b.nc.Close()
}
