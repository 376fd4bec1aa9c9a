package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"xccrtc/ctrl/natsd"
)

// The node joins NATS with its token, says so, answers its stdin commands
// and stops when told to.
func TestRunAnswersCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", Token: "t0k"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	stdin, feed := io.Pipe()
	var out syncBuffer
	rctx, stop := context.WithCancel(ctx)
	done := make(chan int)
	go func() {
		done <- run(rctx, []string{"--nats", ns.ClientURL(), "--nats-token", "t0k", "--node-uuid", "n-test", "--log-level", "error"}, stdin, &out, &out)
	}()
	waitOut(t, ctx, &out, "xrtc-node n-test ready")
	go func() {
		_, _ = io.WriteString(feed, "call c1 no-such-call\noriginate o1 xrtc/1000@xswitch.cn echo\nfrobnicate\n")
	}()
	waitOut(t, ctx, &out, "call c1 none")
	waitOut(t, ctx, &out, "originate o1 error") // nobody is logged in: no XCtrl even
	waitOut(t, ctx, &out, "frobnicate ? error unknown command")
	stop()
	feed.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

func waitOut(t *testing.T, ctx context.Context, out *syncBuffer, want string) {
	t.Helper()
	for !strings.Contains(out.String(), want) {
		select {
		case <-ctx.Done():
			t.Fatalf("no %q in:\n%s", want, out.String())
		case <-time.After(10 * time.Millisecond): // polling the command's output
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
