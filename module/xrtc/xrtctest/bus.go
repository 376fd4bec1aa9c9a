package xrtctest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"xccrtc/module/xrtc"
)

// Bus is an in-memory xrtc.Bus for benchmarks and fuzzing: it measures the
// endpoint, not NATS. Publishes to a reply subject created by Call wake the
// caller; other publishes are counted (and dropped). Requests are answered
// by RequestFunc (default: no responders).
type Bus struct {
	mu      sync.Mutex
	waiters map[string]chan []byte
	handler map[string]func(subject, reply string, data []byte) // by subject
	seq     atomic.Int64

	Published atomic.Int64
	// RequestFunc answers Request; nil answers ErrNoResponders.
	RequestFunc func(ctx context.Context, subject string, data []byte) ([]byte, error)
}

// NewBus returns an empty bus.
func NewBus() *Bus {
	return &Bus{waiters: make(map[string]chan []byte), handler: make(map[string]func(subject, reply string, data []byte))}
}

// Publish implements xrtc.Bus.
func (b *Bus) Publish(subject string, data []byte) error {
	b.Published.Add(1)
	b.mu.Lock()
	w := b.waiters[subject]
	delete(b.waiters, subject)
	b.mu.Unlock()
	if w != nil {
		w <- append([]byte(nil), data...)
	}
	return nil
}

// Request implements xrtc.Bus.
func (b *Bus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if b.RequestFunc != nil {
		return b.RequestFunc(ctx, subject, data)
	}
	return nil, xrtc.ErrNoResponders
}

// Subscribe implements xrtc.Bus: the endpoint's handlers are kept, by
// subject, for Call.
func (b *Bus) Subscribe(subject, queue string, h func(subject, reply string, data []byte)) (func(), error) {
	b.mu.Lock()
	b.handler[subject] = h
	b.mu.Unlock()
	return func() {}, nil
}

// Status implements xrtc.Bus.
func (b *Bus) Status() string { return "IN-MEMORY" }

// Close implements xrtc.Bus.
func (b *Bus) Close() {}

// Call hands data to the endpoint's handler with a fresh reply subject and
// returns a channel that receives the reply, and a function that forgets the
// reply when none is expected.
func (b *Bus) Call(subject string, data []byte) (<-chan []byte, func()) {
	reply := "_reply." + strconv.FormatInt(b.seq.Add(1), 10)
	ch := make(chan []byte, 1)
	b.mu.Lock()
	b.waiters[reply] = ch
	h := b.handler[subject]
	b.mu.Unlock()
	if h != nil {
		h(subject, reply, data)
	}
	return ch, func() {
		b.mu.Lock()
		delete(b.waiters, reply)
		b.mu.Unlock()
	}
}
