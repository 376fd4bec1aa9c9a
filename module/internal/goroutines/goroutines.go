// Package goroutines counts the goroutines a component starts, so that its
// shutdown can wait for them and its tests can prove none leak.
package goroutines

import "sync"

// Group counts running goroutines. Unlike sync.WaitGroup it may be waited
// on while goroutines are still being added, and it refuses new ones once
// closed. The zero value is not ready: use New.
type Group struct {
	mu     sync.Mutex
	cond   *sync.Cond
	n      int
	closed bool
}

// New returns an open, empty group.
func New() *Group {
	g := &Group{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Enter registers a goroutine; it fails once the group is closed.
func (g *Group) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// Leave ends a goroutine registered by Enter.
func (g *Group) Leave() {
	g.mu.Lock()
	g.n--
	if g.n == 0 {
		g.cond.Broadcast()
	}
	g.mu.Unlock()
}

// Wait blocks until no registered goroutine runs.
func (g *Group) Wait() {
	g.mu.Lock()
	for g.n > 0 {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

// Close refuses new goroutines from now on.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Count is the number of goroutines running now.
func (g *Group) Count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
