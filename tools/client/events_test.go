package client

import (
	"context"
	"sync"
)

// events records Options.OnEvent calls for assertions.
type events struct {
	mu      sync.Mutex
	list    []Event
	changed chan struct{}
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.list = append(e.list, ev)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
	e.mu.Unlock()
}

func (e *events) has(k EventKind) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.list {
		if ev.Kind == k {
			return true
		}
	}
	return false
}

func (e *events) wait(ctx context.Context, k EventKind) error {
	for {
		e.mu.Lock()
		found := false
		for _, ev := range e.list {
			found = found || ev.Kind == k
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		ch := e.changed
		e.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
