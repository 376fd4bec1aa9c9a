package ctrl

import (
	"testing"
	"time"
)

func TestKeyedRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	k := newKeyedRate(1, 2)
	steps := []struct {
		key      string
		at       time.Duration
		ok, warn bool
	}{
		{"a", 0, true, false},
		{"a", 0, true, false},
		{"a", 0, false, true}, // the burst is spent: refused, logged
		{"a", time.Second, true, false},
		{"a", time.Second, false, false}, // refused again, not logged again within 10 s
		{"b", time.Second, true, false},  // another key has its own bucket
		{"a", 12 * time.Second, true, false},
	}
	for i, st := range steps {
		ok, warn := k.allow(st.key, t0.Add(st.at))
		if ok != st.ok || warn != st.warn {
			t.Fatalf("step %d (%s at %v): ok %v warn %v, want %v %v", i, st.key, st.at, ok, warn, st.ok, st.warn)
		}
	}
	k.Sweep(t0.Add(13 * time.Second)) // b full again (2 s), a not yet
	if _, ok := k.keys["b"]; ok || len(k.keys) != 1 {
		t.Fatalf("after the sweep: %d buckets, b kept %v", len(k.keys), ok)
	}
	k.Sweep(t0.Add(15 * time.Second))
	if len(k.keys) != 0 {
		t.Fatalf("%d buckets left", len(k.keys))
	}
	off := newKeyedRate(-1, 0)
	for i := 0; i < 1000; i++ {
		if ok, _ := off.allow("a", t0); !ok {
			t.Fatal("a negative rate refused")
		}
	}
	if len(off.keys) != 0 {
		t.Fatal("no bound, yet buckets kept")
	}
}

func TestUserRatesLiveWithTheirSockets(t *testing.T) {
	u := newUserRates(1, 2, -1, 0)
	a, b := u.acquire("1000@x"), u.acquire("1000@x")
	if a != b {
		t.Fatal("two sockets of one login got two buckets")
	}
	if ok, _ := u.allow(a, 2, 10, 1); !ok {
		t.Fatal("the burst of 2 refused")
	}
	if ok, _ := u.allow(b, 1, 10, 1); ok {
		t.Fatal("the login's sockets do not share the burst of 2")
	}
	u.release(a)
	if _, ok := u.m["1000@x"]; !ok {
		t.Fatal("the bucket went with a socket still open")
	}
	u.release(b)
	if len(u.m) != 0 {
		t.Fatalf("%d buckets left after the last socket", len(u.m))
	}
	off := newUserRates(-1, 0, -1, 0)
	if ok, _ := off.allow(off.acquire("x"), 1000, 1<<30, 1); !ok {
		t.Fatal("no bound, yet refused")
	}
}

// TestUserDataRate: a user's bytes come out of a bucket of their own, and
// a message is taken from both buckets or from neither.
func TestUserDataRate(t *testing.T) {
	const sec = int64(time.Second)
	u := newUserRates(1, 3, 1000, 5000) // 1 message a second, burst 3; 1,000 bytes, burst 5,000
	r := u.acquire("1000@x")
	for i, s := range []struct {
		at            int64
		n, size       int
		ok, overBytes bool
	}{
		{sec, 3, 1000, true, false},      // 0 messages and 4,000 bytes left
		{sec, 1, 10, false, false},       // no message left: no bytes taken
		{2 * sec, 1, 5000, true, false},  // 1 message and 5,000 bytes back (4,990 had the refusal taken some)
		{3 * sec, 1, 2000, false, true},  // 1 message and 1,000 bytes: short of bytes
		{3 * sec, 1, 1000, true, false},  // ... and that refusal took no message
		{13 * sec, 3, 5000, true, false}, // 10 s: both full, to their bursts
		{13 * sec, 0, 1, false, true},    // not past them
	} {
		if ok, over := u.allow(r, s.n, s.size, s.at); ok != s.ok || over != s.overBytes {
			t.Fatalf("step %d (%d messages, %d bytes at %v): ok %v, over bytes %v; want %v, %v", i, s.n, s.size, time.Duration(s.at), ok, over, s.ok, s.overBytes)
		}
	}
}

// TestUserRateTimeOnlyForward: a user's sockets read the time before they
// take the shared bucket's lock, so a call may come with a time behind the
// last one's, by seconds on a busy machine. The interval between must not
// be refilled twice: a flood from 50 sockets passed a few frames more than
// the bound, and many more in CI.
func TestUserRateTimeOnlyForward(t *testing.T) {
	const sec = int64(time.Second)
	u := newUserRates(1, 1, 100, 100)
	r := u.acquire("1000@x")
	for i, s := range []struct {
		at       int64
		ok, over bool
	}{
		{sec, true, false},      // the bursts
		{2 * sec, true, false},  // a second's refill
		{sec, false, true},      // a reader a second late: nothing to take
		{2 * sec, false, true},  // the second from 1 s to 2 s came once already
		{3 * sec, true, false},  // the next one
		{-2 * sec, false, true}, // five seconds late
		{3 * sec, false, true},  // and nothing came twice
		{4 * sec, true, false},
	} {
		if ok, over := u.allow(r, 1, 100, s.at); ok != s.ok || over != s.over {
			t.Fatalf("step %d at %v: ok %v, over bytes %v; want %v, %v", i, time.Duration(s.at), ok, over, s.ok, s.over)
		}
	}
	m := newUserRates(1, 1, -1, 0)
	r = m.acquire("1001@x")
	for i, at := range []int64{sec, 2 * sec, sec, 2 * sec} {
		if ok, _ := m.allow(r, 1, 0, at); ok != (i < 2) {
			t.Fatalf("messages, step %d at %v: ok %v", i, time.Duration(at), ok)
		}
	}
}
