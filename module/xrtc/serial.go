package xrtc

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// serial runs functions one at a time, in the order they were queued, on a
// goroutine that exists only while there is work. Every call and every
// client socket has one, so a call's messages stay ordered while different
// calls proceed in parallel, and an idle call costs no goroutine.
type serial struct {
	mu      sync.Mutex
	q       []func()
	running bool
}

// tracker counts the endpoint's goroutines so that Stop can wait for them
// (and tests can prove none leak). Unlike sync.WaitGroup it may be waited on
// while work is still being added.
type tracker struct {
	mu     sync.Mutex
	cond   *sync.Cond
	n      int
	closed bool
}

func newTracker() *tracker {
	t := &tracker{}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// enter registers a goroutine; it fails once the tracker is closed.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.n++
	return true
}

func (t *tracker) leave() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		t.cond.Broadcast()
	}
	t.mu.Unlock()
}

// wait blocks until no tracked goroutine runs.
func (t *tracker) wait() {
	t.mu.Lock()
	for t.n > 0 {
		t.cond.Wait()
	}
	t.mu.Unlock()
}

// close refuses new goroutines from now on.
func (t *tracker) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// run queues f on s. It reports false when the endpoint is stopped and f
// will never run.
func (e *Endpoint) run(s *serial, what string, f func()) bool {
	s.mu.Lock()
	s.q = append(s.q, f)
	if s.running {
		s.mu.Unlock()
		return true
	}
	s.running = true
	s.mu.Unlock()
	if !e.track.enter() {
		s.mu.Lock()
		s.running = false
		s.q = nil
		s.mu.Unlock()
		return false
	}
	go func() {
		defer e.track.leave()
		for {
			s.mu.Lock()
			if len(s.q) == 0 {
				s.q = nil
				s.running = false
				s.mu.Unlock()
				return
			}
			next := s.q[0]
			s.q[0] = nil
			s.q = s.q[1:]
			s.mu.Unlock()
			e.safely(what, next)
		}
	}()
	return true
}

// spawn runs f on a tracked goroutine with panic recovery.
func (e *Endpoint) spawn(what string, f func()) bool {
	if !e.track.enter() {
		return false
	}
	go func() {
		defer e.track.leave()
		e.safely(what, f)
	}()
	return true
}

// after runs f once d has passed on the endpoint's clock, tracked and with
// panic recovery.
func (e *Endpoint) after(d time.Duration, what string, f func()) Timer {
	return e.clock.AfterFunc(d, func() {
		if !e.track.enter() {
			return
		}
		defer e.track.leave()
		e.safely(what, f)
	})
}

// safely calls f and turns a panic into a log line: a panic in Go would take
// the whole FreeSWITCH down.
func (e *Endpoint) safely(what string, f func()) {
	defer func() {
		if v := recover(); v != nil {
			e.stats.panics.Add(1)
			e.log.Error("xrtc: recovered panic", "in", what, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if e.opts.OnPanic != nil {
				e.opts.OnPanic(v)
			}
		}
	}()
	f()
}
