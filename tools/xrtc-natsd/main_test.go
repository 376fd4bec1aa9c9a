package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestTokenChoices(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nats.token")
	tok, err := resolveToken("", file, false)
	if err != nil || len(tok) < 32 {
		t.Fatalf("generated token %q: %v", tok, err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	if again, err := resolveToken("", file, false); err != nil || again != tok {
		t.Fatalf("token read back %q, want %q (%v)", again, tok, err)
	}
	for _, bad := range []struct {
		token, file string
		open        bool
	}{{"", "", false}, {"x", file, false}, {"x", "", true}, {"", file, true}} {
		if _, err := resolveToken(bad.token, bad.file, bad.open); err == nil {
			t.Errorf("token %q file %q open %v accepted", bad.token, bad.file, bad.open)
		}
	}
}

// The server starts, says where it listens, requires its token, and stops
// cleanly when told to.
func TestRunServesUntilStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:-1", "--token", "s3cret"}, w, io.Discard)
		w.Close()
	}()
	sc := bufio.NewScanner(r)
	if !sc.Scan() {
		t.Fatalf("no ready line: %v", sc.Err())
	}
	url, ok := strings.CutPrefix(sc.Text(), "xrtc-natsd ready ")
	if !ok {
		t.Fatalf("ready line %q", sc.Text())
	}
	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Error("connected without the token")
	}
	nc, err := nats.Connect(url, nats.Token("s3cret"))
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	nc.Close()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
