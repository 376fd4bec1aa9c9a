package client

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
)

const (
	testUser   = "1000@example.com"
	testPasswd = "secret"
)

// start bounds a test with a timeout and checks, when it ends, that no
// goroutine of the client, pion or the WebSocket stack is left.
func start(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	t.Cleanup(func() { checkNoLeaks(t) })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func checkNoLeaks(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		// goroutines end asynchronously after Close returns (timers,
		// pion's internal loops): poll the condition until the deadline
		time.Sleep(20 * time.Millisecond)
	}
}

func leakedGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "checkNoLeaks") || strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "xccrtc") {
			continue
		}
		if strings.Contains(g, "xccrtc/tools/client") || strings.Contains(g, "github.com/pion/") ||
			strings.Contains(g, "gorilla/websocket") {
			if strings.Contains(g, "testing.tRunner") {
				continue // the test's own goroutine
			}
			out = append(out, g)
		}
	}
	return out
}

func newServer(t *testing.T, cfg vertotest.Config) *vertotest.Server {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = map[string]string{testUser: testPasswd, "1001@example.com": "other"}
	}
	return vertotest.New(t, cfg)
}

func testOptions(url string) Options {
	return Options{
		URL: url, Login: testUser, Passwd: testPasswd,
		Settings:       LoopbackSettings(),
		RequestTimeout: 10 * time.Second,
		ReadyTimeout:   5 * time.Second,
	}
}

func dial(t *testing.T, ctx context.Context, o Options) *Client {
	t.Helper()
	c, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// answeredCall dials srv with events recorded, places a call to dest and
// waits for its answer.
func answeredCall(t *testing.T, ctx context.Context, srv *vertotest.Server, dest string, co CallOptions) (*Client, *Call, *events) {
	t.Helper()
	ev := &events{}
	o := testOptions(srv.URL())
	o.OnEvent = ev.add
	c := dial(t, ctx, o)
	call, err := c.Call(ctx, dest, co)
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	return c, call, ev
}
