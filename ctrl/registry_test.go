package ctrl

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"xccrtc/ctrl/natsd"
)

func TestEncodeKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1000@xswitch.cn", "1000=40xswitch=2Ecn"},
		{"a_b-C9", "a_b-C9"},
		{"=", "=3D"},
		{"*>. ", "=2A=3E=2E=20"},
		{"ü", "=C3=BC"},
		{"", ""},
	} {
		got := EncodeKey(tc.in)
		if got != tc.want {
			t.Errorf("EncodeKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := DecodeKey(got)
		if err != nil || back != tc.in {
			t.Errorf("DecodeKey(%q) = %q, %v", got, back, err)
		}
	}
	for _, bad := range []string{"=", "=4", "=ZZ"} {
		if _, err := DecodeKey(bad); err == nil {
			t.Errorf("DecodeKey(%q) accepted", bad)
		}
	}
}

func FuzzEncodeKey(f *testing.F) {
	f.Add("1000@xswitch.cn")
	f.Fuzz(func(t *testing.T, s string) {
		k := EncodeKey(s)
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '=') {
				t.Fatalf("key %q has %q", k, c)
			}
		}
		if back, err := DecodeKey(k); err != nil || back != s {
			t.Fatalf("round trip %q -> %q -> %q %v", s, k, back, err)
		}
	})
}

func testRegistries(t *testing.T) map[string]Registry {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	kv, err := NewKVRegistry(ctx, nc, KVOptions{Bucket: "reg_test", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Registry{"kv": kv, "mem": NewMemRegistry()}
}

func TestRegistry(t *testing.T) {
	for name, r := range testRegistries(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if got, err := r.Lookup(ctx, "1000@d.example"); err != nil || len(got) != 0 {
				t.Fatalf("empty lookup: %v %v", got, err)
			}
			a, err := r.Register(ctx, RegEntry{CtrlUUID: "c1", Sessid: "s.1", Login: "1000@d.example"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Register(ctx, RegEntry{CtrlUUID: "c2", Sessid: "s2", Login: "1000@d.example"}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Register(ctx, RegEntry{CtrlUUID: "c2", Sessid: "s3", Login: "1000@d.example.org"}); err != nil {
				t.Fatal(err)
			}
			got, err := r.Lookup(ctx, "1000@d.example")
			if err != nil || len(got) != 2 {
				t.Fatalf("lookup: %+v %v", got, err)
			}
			if e, ok, err := r.Owner(ctx, "s.1"); err != nil || !ok || e.CtrlUUID != "c1" || e.Login != "1000@d.example" {
				t.Fatalf("owner: %+v %v %v", e, ok, err)
			}
			// The sessid moves to c3: the old lease's delete must not remove it.
			b, err := r.Register(ctx, RegEntry{CtrlUUID: "c3", Sessid: "s.1", Login: "1000@d.example"})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Unregister(ctx, a); err != nil {
				t.Fatal(err)
			}
			if e, ok, _ := r.Owner(ctx, "s.1"); !ok || e.CtrlUUID != "c3" {
				t.Fatalf("owner after stale delete: %+v %v", e, ok)
			}
			if _, err := r.Refresh(ctx, []*Lease{b}); err != nil {
				t.Fatal(err)
			}
			if err := r.Unregister(ctx, b); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := r.Owner(ctx, "s.1"); ok {
				t.Fatal("owner after delete")
			}
			got, _ = r.Lookup(ctx, "1000@d.example")
			if len(got) != 1 || got[0].Sessid != "s2" {
				t.Fatalf("lookup after delete: %+v", got)
			}
		})
	}
}

func TestNoFileStorageOnlyForStorageErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&jetstream.APIError{ErrorCode: 10023, Description: "insufficient resources"}, true},
		{&jetstream.APIError{ErrorCode: 10047, Description: "storage resources exceeded"}, true},
		{&jetstream.APIError{ErrorCode: 10005, Description: "no suitable peers for placement"}, false},
		{fmt.Errorf("wrapped: %w", &jetstream.APIError{ErrorCode: 10023}), true},
		{context.DeadlineExceeded, false},
		{jetstream.ErrBucketExists, false},
	} {
		if got := noFileStorage(tc.err); got != tc.want {
			t.Errorf("noFileStorage(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// Claim takes a sessid that is free (never written, or deleted), takes it
// over from the same login and says from whom, and leaves it to another
// login, writing nothing: through KVRegistry.Claim and through the
// holder-then-write path of any other registry.
func TestRegistrarClaim(t *testing.T) {
	for name, r := range testRegistries(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rr := NewRegistrar(r, nil, time.Minute, time.Minute, slog.New(slog.DiscardHandler))
			go rr.Run(ctx)
			remove := func(l *Lease) {
				rr.Remove(l)
				rr.Drain(ctx)
			}
			claim := func(ctrl, sessid, login string) (*Lease, RegEntry, bool) {
				t.Helper()
				l := &Lease{Entry: RegEntry{CtrlUUID: ctrl, Sessid: sessid, Login: login}}
				prev, held, err := rr.Claim(ctx, l, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return l, prev, held
			}
			sockets := func(login string) []RegEntry {
				t.Helper()
				got, err := r.Lookup(ctx, login)
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			a, _, held := claim("c1", "claim-1", "alice@d")
			if held {
				t.Fatal("a new sessid was held")
			}
			if e, ok, _ := r.Owner(ctx, "claim-1"); !ok || e.CtrlUUID != "c1" {
				t.Fatalf("owner after the claim: %+v %v", e, ok)
			}
			// The same user comes back through c2: c1 is named.
			b, prev, held := claim("c2", "claim-1", "alice@d")
			if !held || prev.CtrlUUID != "c1" || prev.Login != "alice@d" {
				t.Fatalf("take-over: held %v prev %+v", held, prev)
			}
			if got := sockets("alice@d"); len(got) != 1 || got[0].CtrlUUID != "c2" {
				t.Fatalf("alice after the take-over: %+v", got)
			}
			// c1's socket closes: it removes nothing of c2's.
			remove(a)
			if e, ok, _ := r.Owner(ctx, "claim-1"); !ok || e.CtrlUUID != "c2" {
				t.Fatalf("owner after the stale remove: %+v %v", e, ok)
			}
			// Another user with that sessid: refused, nothing written.
			_, prev, held = claim("c3", "claim-1", "mallory@d")
			if !held || prev.Login != "alice@d" || prev.CtrlUUID != "c2" {
				t.Fatalf("another login: held %v prev %+v", held, prev)
			}
			if got := sockets("mallory@d"); len(got) != 0 {
				t.Fatalf("the refused login is registered: %+v", got)
			}
			if e, ok, _ := r.Owner(ctx, "claim-1"); !ok || e.CtrlUUID != "c2" || e.Login != "alice@d" {
				t.Fatalf("owner after the refused login: %+v %v", e, ok)
			}
			if n := rr.Live(); n != 1 {
				t.Fatalf("the registrar keeps %d leases, want 1 (the refused one is not kept)", n)
			}
			// Deleted: free again.
			remove(b)
			if _, _, held := claim("c3", "claim-1", "mallory@d"); held {
				t.Fatal("a deleted sessid was held")
			}
			if got := sockets("mallory@d"); len(got) != 1 || got[0].CtrlUUID != "c3" {
				t.Fatalf("mallory: %+v", got)
			}
		})
	}
}

// A bucket is read the same through the direct get API (one replica) and
// through the leader's message-get API (replicas): the current values of
// the matching keys, deleted ones left out, an empty answer for none.
func TestBucketReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := testRegistries(t)["kv"].(*KVRegistry)
	if !r.b.direct.Load() {
		t.Fatal("a bucket with one replica is not read with direct gets")
	}
	for i := range 5 {
		if _, err := r.Register(ctx, RegEntry{CtrlUUID: "c1", Sessid: fmt.Sprintf("r%d", i), Login: "bob@d"}); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := r.Register(ctx, RegEntry{CtrlUUID: "c1", Sessid: "r-gone", Login: "bob@d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Unregister(ctx, gone); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{true, false} {
		r.b.direct.Store(direct)
		got, err := r.Lookup(ctx, "bob@d")
		if err != nil || len(got) != 5 {
			t.Errorf("direct=%v: %d sockets (%v), want 5", direct, len(got), err)
		}
		if got, err := r.Lookup(ctx, "nobody@d"); err != nil || len(got) != 0 {
			t.Errorf("direct=%v: nobody has %+v %v", direct, got, err)
		}
	}
}
