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
	u := newUserRates(1, 2)
	a, b := u.acquire("1000@x"), u.acquire("1000@x")
	if a != b {
		t.Fatal("two sockets of one login got two buckets")
	}
	if !u.allow(a, 2, 1) || u.allow(b, 1, 1) {
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
	off := newUserRates(-1, 0)
	if r := off.acquire("x"); !off.allow(r, 1000, 1) {
		t.Fatal("no bound, yet refused")
	}
}
