// Package xrtctest is the test kit of the xrtc endpoint: a manual clock, a
// fake Host whose channels record what the endpoint asked of them, and a
// fake XCtrl on NATS. Tests read like the behaviour they check and never
// sleep to wait for something.
package xrtctest

import (
	"sort"
	"sync"
	"time"

	"xccrtc/module/xrtc"
)

// Clock is a manual xrtc.Clock: time moves only in Advance, which runs the
// timers that fall due, in order, on the caller's goroutine.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*timer
	armed  map[time.Duration][]chan struct{} // Armed
}

type timer struct {
	c    *Clock
	when time.Time
	seq  int
	f    func()
	done bool
}

// NewClock returns a clock at a fixed date.
func NewClock() *Clock {
	return &Clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
}

// Now implements xrtc.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements xrtc.Clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) xrtc.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	for _, ch := range c.armed[d] {
		close(ch)
	}
	delete(c.armed, d)
	return t
}

// Armed returns a channel closed when the next timer of duration d is armed
// (a test waits for the endpoint to schedule something before it advances
// the clock past it).
func (c *Clock) Armed(d time.Duration) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan struct{})
	if c.armed == nil {
		c.armed = map[time.Duration][]chan struct{}{}
	}
	c.armed[d] = append(c.armed[d], ch)
	return ch
}

// Stop implements xrtc.Timer.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.remove(t)
	return true
}

func (c *Clock) remove(t *timer) {
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return
		}
	}
}

// Advance moves the clock forward by d, running every timer that falls due
// (also those armed by the timers it runs) at its own time.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.Slice(c.timers, func(i, j int) bool {
			if !c.timers[i].when.Equal(c.timers[j].when) {
				return c.timers[i].when.Before(c.timers[j].when)
			}
			return c.timers[i].seq < c.timers[j].seq
		})
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			c.now = target
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.done = true
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Pending is the number of armed timers.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
