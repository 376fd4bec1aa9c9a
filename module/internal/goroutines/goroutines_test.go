package goroutines

import (
	"testing"
	"time"
)

func TestWaitWhileAddingAndClose(t *testing.T) {
	g := New()
	release := make(chan struct{})
	for i := 0; i < 3; i++ {
		if !g.Enter() {
			t.Fatal("open group refused a goroutine")
		}
		go func() {
			defer g.Leave()
			<-release
		}()
	}
	if n := g.Count(); n != 3 {
		t.Fatalf("count %d, want 3", n)
	}
	done := make(chan struct{})
	go func() { g.Wait(); close(done) }()
	select {
	case <-done:
		t.Fatal("Wait returned while goroutines run")
	case <-time.After(20 * time.Millisecond):
	}
	g.Close()
	if g.Enter() {
		t.Fatal("closed group took a goroutine")
	}
	close(release)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after every goroutine left")
	}
	if n := g.Count(); n != 0 {
		t.Fatalf("count %d after all left", n)
	}
}
