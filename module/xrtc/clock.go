package xrtc

import "time"

// Clock is the endpoint's source of time: media watch, ring, detach and
// heartbeat timers all go through it, so tests drive them with a manual
// clock (xrtctest.Clock) instead of sleeping through real timeouts.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or, for a manual clock, from
	// Advance) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop prevents the call if it has not happened yet and reports whether
	// it did so.
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
