package ctrl

import (
	"sync"
	"time"
)

// Throttle counts failed logins per key (an address, a user) in fixed
// windows. A key that reached its limit is refused until its window ends,
// without its credentials being checked.
type Throttle struct {
	limit  int
	window time.Duration

	mu   sync.Mutex
	keys map[string]*throttleEntry
}

type throttleEntry struct {
	start time.Time
	fails int
}

// NewThrottle allows limit failures per key per window.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return &Throttle{limit: limit, window: window, keys: make(map[string]*throttleEntry)}
}

// Blocked reports whether key has used up its failures.
func (t *Throttle) Blocked(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.keys[key]
	if !ok {
		return false
	}
	if now.Sub(e.start) >= t.window {
		delete(t.keys, key)
		return false
	}
	return e.fails >= t.limit
}

// Fail counts one failure for key.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.keys[key]
	if !ok || now.Sub(e.start) >= t.window {
		e = &throttleEntry{start: now}
		t.keys[key] = e
	}
	e.fails++
}

// Sweep forgets the windows that ended.
func (t *Throttle) Sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.keys {
		if now.Sub(e.start) >= t.window {
			delete(t.keys, k)
		}
	}
}

// rateLimiter is a token bucket for one socket's incoming messages. Only the
// socket's reader touches it.
type rateLimiter struct {
	tokens float32
	last   int64 // unix nanos
}

// allow takes n tokens at rate per second with burst; false when short.
func (r *rateLimiter) allow(n int, rate float64, burst int, now int64) bool {
	if r.last == 0 {
		r.tokens = float32(burst)
	} else if dt := now - r.last; dt > 0 {
		r.tokens += float32(float64(dt) / 1e9 * rate)
		if r.tokens > float32(burst) {
			r.tokens = float32(burst)
		}
	}
	r.last = now
	if r.tokens < float32(n) {
		return false
	}
	r.tokens -= float32(n)
	return true
}
