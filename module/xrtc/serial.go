package xrtc

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"xccrtc/verto"
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

// maxQueuedRequests bounds the client requests waiting on one call's or
// socket's queue (runRequest): they run one at a time, and FreeSWITCH takes
// 250 ms for a hold, so a client sending at its message rate queued them
// without end, in the switch's memory, each to run long after its
// controller had given up on it. 32 holds run in 8 s, within XCtrl's
// request timeout (10 s); verto.js has a few in flight at most.
const maxQueuedRequests = 32

// runRequest queues a client request's handler f on s, or refuses r at
// once (-32600 Rate limit exceeded) when maxQueuedRequests wait there
// already; what the switch itself reports queues with run, unbounded. It
// reports false when the endpoint is stopped and r was not answered.
func (e *Endpoint) runRequest(s *serial, r *request, f func()) bool {
	queued, full := e.runAtMost(s, maxQueuedRequests, r.msg.Method, e.guarded(r, f))
	if full {
		e.stats.queueFull.Add(1)
		e.warnQuiet("xrtc: request refused: too many waiting on its call or socket", "method", r.msg.Method, "max", maxQueuedRequests)
		e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidRequest, Message: verto.MsgRateLimited})
		return true
	}
	return queued
}

// run queues f on s. It reports false when the endpoint is stopped and f
// will never run.
func (e *Endpoint) run(s *serial, what string, f func()) bool {
	queued, _ := e.runAtMost(s, 0, what, f)
	return queued
}

// runAtMost is run that leaves f out (full) when max functions (max > 0)
// wait on s already, counted under the lock that queues f.
func (e *Endpoint) runAtMost(s *serial, max int, what string, f func()) (queued, full bool) {
	s.mu.Lock()
	if max > 0 && len(s.q) >= max {
		s.mu.Unlock()
		return false, true
	}
	s.q = append(s.q, f)
	if s.running {
		s.mu.Unlock()
		return true, false
	}
	s.running = true
	s.mu.Unlock()
	if !e.track.Enter() {
		s.mu.Lock()
		s.running = false
		s.q = nil
		s.mu.Unlock()
		return false, false
	}
	go func() {
		defer e.track.Leave()
		growStack()
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
	return true, false
}

// spawn runs f on a tracked goroutine with panic recovery.
func (e *Endpoint) spawn(what string, f func()) bool {
	if !e.track.Enter() {
		return false
	}
	go func() {
		defer e.track.Leave()
		e.safely(what, f)
	}()
	return true
}

// after runs f once d has passed on the endpoint's clock, tracked and with
// panic recovery.
func (e *Endpoint) after(d time.Duration, what string, f func()) Timer {
	return e.clock.AfterFunc(d, func() {
		if !e.track.Enter() {
			return
		}
		defer e.track.Leave()
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
