package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// logGate passes log records on until closed, then drops them. The node's
// NATS client reports its own Close as a disconnect ("xrtc: NATS
// disconnected ... reconnecting", a warning) from a goroutine of nats.go,
// sometimes after the node has stopped (module/xrtc/bus.go): while the
// stack stops that message is dropped, and once it is closed nothing more
// is written.
type logGate struct {
	mu    *sync.Mutex
	state *int // gateOpen, gateStopping, gateClosed
	h     slog.Handler
}

const (
	gateOpen = iota
	gateStopping
	gateClosed
)

// newLogGate returns the logger and a function that moves the gate on:
// the first call marks the stack stopping, the second closes the gate.
func newLogGate(h slog.Handler) (*slog.Logger, func()) {
	g := logGate{mu: new(sync.Mutex), state: new(int), h: h}
	return slog.New(g), func() {
		g.mu.Lock()
		if *g.state < gateClosed {
			*g.state++
		}
		g.mu.Unlock()
	}
}

func (g logGate) Enabled(ctx context.Context, l slog.Level) bool { return g.h.Enabled(ctx, l) }

func (g logGate) Handle(ctx context.Context, r slog.Record) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if *g.state == gateClosed || (*g.state == gateStopping && strings.HasPrefix(r.Message, "xrtc: NATS disconnected")) {
		return nil
	}
	return g.h.Handle(ctx, r)
}

func (g logGate) WithAttrs(a []slog.Attr) slog.Handler {
	return logGate{mu: g.mu, state: g.state, h: g.h.WithAttrs(a)}
}

func (g logGate) WithGroup(name string) slog.Handler {
	return logGate{mu: g.mu, state: g.state, h: g.h.WithGroup(name)}
}
