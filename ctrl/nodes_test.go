package ctrl

import (
	"fmt"
	"testing"
	"time"

	"xccrtc/verto"
)

func TestChooseIsConsistentAcrossInstances(t *testing.T) {
	now := time.Now()
	a, b := NewNodeTable(time.Minute), NewNodeTable(time.Minute)
	for _, id := range []string{"n1", "n2", "n3", "n4"} {
		a.Update(verto.Node{UUID: id, SessionsMax: 1000}, now)
	}
	for _, id := range []string{"n4", "n3", "n2", "n1"} {
		b.Update(verto.Node{UUID: id, SessionsMax: 1000}, now)
	}
	count := map[string]int{}
	for i := 0; i < 400; i++ {
		key := fmt.Sprintf("%d@d", 3000+i)
		x, _ := a.Choose(key, now)
		y, _ := b.Choose(key, now)
		if x != y {
			t.Fatalf("%s: %s vs %s", key, x, y)
		}
		count[x]++
		// Reset the local placement count so load stays equal.
		a.Update(verto.Node{UUID: x, SessionsMax: 1000}, now)
		b.Update(verto.Node{UUID: y, SessionsMax: 1000}, now)
	}
	for id, n := range count {
		if n < 60 || n > 140 {
			t.Errorf("node %s got %d of 400", id, n)
		}
	}
	// Removing a node moves only its keys.
	b.Remove("n4")
	for i := 0; i < 400; i++ {
		key := fmt.Sprintf("%d@d", 3000+i)
		x, _ := a.Choose(key, now)
		y, _ := b.Choose(key, now)
		if x != "n4" && x != y {
			t.Fatalf("%s moved from %s to %s", key, x, y)
		}
		a.Update(verto.Node{UUID: x, SessionsMax: 1000}, now)
		b.Update(verto.Node{UUID: y, SessionsMax: 1000}, now)
	}
}

func TestChooseAvoidsLoadedAndShuttingDownNodes(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name  string
		nodes []verto.Node
		want  func(string) bool
	}{
		{"overloaded", []verto.Node{{UUID: "hot", Sessions: 900, SessionsMax: 1000}, {UUID: "cool", Sessions: 100, SessionsMax: 1000}},
			func(id string) bool { return id == "cool" }},
		{"full", []verto.Node{{UUID: "full", Sessions: 10, SessionsMax: 10}, {UUID: "busy", Sessions: 900, SessionsMax: 1000}},
			func(id string) bool { return id == "busy" }},
		{"shutdown", []verto.Node{{UUID: "leaving", Shutdown: true}, {UUID: "staying", Sessions: 999, SessionsMax: 1000}},
			func(id string) bool { return id == "staying" }},
		{"all shutting down", []verto.Node{{UUID: "a", Shutdown: true}}, func(id string) bool { return id == "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nt := NewNodeTable(time.Minute)
			for _, n := range tc.nodes {
				nt.Update(n, now)
			}
			for i := 0; i < 20; i++ {
				got, _ := nt.Choose(fmt.Sprint(i), now)
				if !tc.want(got) {
					t.Fatalf("key %d -> %q", i, got)
				}
			}
		})
	}
}

func TestNodeExpiry(t *testing.T) {
	now := time.Now()
	nt := NewNodeTable(45 * time.Second)
	nt.Update(verto.Node{UUID: "old"}, now.Add(-time.Minute))
	nt.Update(verto.Node{UUID: "new"}, now)
	if nt.Alive("old", now) || !nt.Alive("new", now) {
		t.Fatal("alive")
	}
	if dead := nt.Expire(now); len(dead) != 1 || dead[0] != "old" {
		t.Fatalf("expired %v", dead)
	}
	if got := nt.Live(now); len(got) != 1 {
		t.Fatalf("live %v", got)
	}
}
