package ctrl

import (
	"sync"
	"sync/atomic"
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

// rateLimiter is a token bucket: a socket's incoming messages (only its
// reader touches it), a user's messages or bytes (under userRate.mu). Its
// float64 counts single bytes in a burst of megabytes, and takes no more
// room than a float32 beside the int64.
type rateLimiter struct {
	tokens float64
	last   int64 // monoNanos
}

// allow takes n tokens at rate per second with burst; false when short.
func (r *rateLimiter) allow(n int, rate float64, burst int, now int64) bool {
	if !r.has(n, rate, burst, now) {
		return false
	}
	r.tokens -= float64(n)
	return true
}

// has refills the bucket to now (monoNanos) and reports whether it holds n
// tokens; it takes none. now may be behind the last call's (a user's
// bucket is shared by sockets whose readers took the time before the lock,
// and a reader may wait long on a busy machine): the refill time only
// moves forward, or the same interval would be counted again.
func (r *rateLimiter) has(n int, rate float64, burst int, now int64) bool {
	if r.last == 0 {
		r.tokens, r.last = float64(burst), now
	} else if dt := now - r.last; dt > 0 {
		r.tokens = min(r.tokens+float64(dt)/1e9*rate, float64(burst))
		r.last = now
	}
	return r.tokens >= float64(n)
}

// clockEpoch is the origin of monoNanos.
var clockEpoch = time.Now()

// monoNanos is t in the rate buckets' time: nanoseconds since clockEpoch
// on the monotonic clock (t from time.Now), which no change of the wall
// clock sets back: a bucket whose time only moves forward would otherwise
// refuse everything until the wall clock came back to its last time.
func monoNanos(t time.Time) int64 { return int64(t.Sub(clockEpoch)) }

// keyedRate is a token bucket per key (a login), shared by the key's
// sockets: it bounds what one user starts, however many sockets it holds.
type keyedRate struct {
	rate  float64 // tokens a second; negative: no bound
	burst int

	mu     sync.Mutex
	keys   map[string]*rateLimiter
	warned logEvery // refusals logged
}

func newKeyedRate(rate float64, burst int) *keyedRate {
	return &keyedRate{rate: rate, burst: burst, keys: make(map[string]*rateLimiter)}
}

// allow takes a token of key's bucket; false when it has none. warn is
// true for the first refusal in 10 s (the one to log).
func (k *keyedRate) allow(key string, now time.Time) (ok, warn bool) {
	if k.rate < 0 {
		return true, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.keys[key]
	if r == nil {
		r = &rateLimiter{}
		k.keys[key] = r
	}
	if r.allow(1, k.rate, k.burst, monoNanos(now)) {
		return true, false
	}
	return false, k.warned.now(now)
}

// Sweep forgets the buckets that have filled up again: a new one is the
// same.
func (k *keyedRate) Sweep(now time.Time) {
	if k.rate <= 0 {
		return
	}
	refill := int64(float64(k.burst) / k.rate * 1e9)
	mono := monoNanos(now)
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, r := range k.keys {
		if mono-r.last >= refill {
			delete(k.keys, key)
		}
	}
}

// logEvery lets a refusal that may come in a flood be logged at most once
// every 10 s, so that the flood does not become a flood of logs.
type logEvery struct{ last atomic.Int64 } // unix nanos of the last line

// now reports whether to log now.
func (l *logEvery) now(t time.Time) bool {
	last := l.last.Load()
	return t.UnixNano()-last >= int64(10*time.Second) && l.last.CompareAndSwap(last, t.UnixNano())
}

// userRates are the shares of logged-in users, one a login, shared by its
// sockets on the instance and kept while one of them is open: the message
// and byte buckets, and the lock its subscriptions are bounded under.
type userRates struct {
	rate  float64 // messages a second; negative: no bound
	burst int
	// bytes a second (negative: no bound) and their burst
	byteRate  float64
	byteBurst int

	mu sync.Mutex
	m  map[string]*userRate
}

// userRate is one login's share.
type userRate struct {
	key  string
	refs int // sockets holding it (under userRates.mu)

	mu    sync.Mutex
	r     rateLimiter
	bytes rateLimiter
	// subMu is held while a subscription of one of the login's sockets
	// is counted and added (Server.subscribe).
	subMu sync.Mutex
}

func newUserRates(rate float64, burst int, byteRate float64, byteBurst int) *userRates {
	return &userRates{rate: rate, burst: burst, byteRate: byteRate, byteBurst: byteBurst, m: make(map[string]*userRate)}
}

// acquire returns key's share for one more socket.
func (u *userRates) acquire(key string) *userRate {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.m[key]
	if r == nil {
		r = &userRate{key: key}
		u.m[key] = r
	}
	r.refs++
	return r
}

// release gives a socket's bucket back; the last socket's goes.
func (u *userRates) release(r *userRate) {
	if r == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if r.refs--; r.refs <= 0 && u.m[r.key] == r {
		delete(u.m, r.key)
	}
}

// allow takes n messages of size bytes in all from r's buckets, or
// nothing: ok is false when one of them is short, overBytes when that is
// the byte bucket.
func (u *userRates) allow(r *userRate, n, size int, now int64) (ok, overBytes bool) {
	if r == nil {
		return true, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	msgs, bytes := u.rate >= 0, u.byteRate >= 0
	// Both refilled first, whatever is refused.
	msgsOK := !msgs || r.r.has(n, u.rate, u.burst, now)
	if bytes && !r.bytes.has(size, u.byteRate, u.byteBurst, now) {
		return false, true
	}
	if !msgsOK {
		return false, false
	}
	if msgs {
		r.r.tokens -= float64(n)
	}
	if bytes {
		r.bytes.tokens -= float64(size)
	}
	return true, false
}
