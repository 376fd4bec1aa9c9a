package xrtc_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// lockedBuffer is a log destination the endpoint's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the logged lines that contain s.
func (l *lockedBuffer) lines(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// A client that repeats a refused request (here: acting on someone else's
// call, which a stolen callID allows at the client's message rate) cannot
// flood the switch's log: each kind of refusal is logged once every 10 s,
// with how many were left out, while every request is still answered.
func TestRefusalsDoNotFloodTheLog(t *testing.T) {
	var logged lockedBuffer
	e := newEnv(t, func(o *xrtc.Options) { o.Log = slog.New(slog.NewTextHandler(&logged, nil)) })
	e.answered("call-own")
	const refused = "another client's call refused"
	hold := strangerParams("call-own", map[string]any{"action": "hold"})
	for range 50 {
		if msg := errMsg(t, e.ctrl.Send(t, e.node, verto.MethodModify, hold)); msg != verto.MsgCallNotExist {
			t.Fatalf("hold by another user: %q", msg)
		}
	}
	if got := logged.lines(refused); len(got) != 1 {
		t.Fatalf("50 refusals logged %d lines, want 1:\n%s", len(got), strings.Join(got, "\n"))
	}
	e.clock.Advance(10 * time.Second) // the call's media timeout ends it: the next refusal is on another
	e.ctrl.Expect(t, verto.MethodBye)
	e.answered("call-two")
	if msg := errMsg(t, e.ctrl.Send(t, e.node, verto.MethodModify, strangerParams("call-two", map[string]any{"action": "hold"}))); msg != verto.MsgCallNotExist {
		t.Fatalf("hold by another user: %q", msg)
	}
	got := logged.lines(refused)
	if len(got) != 2 || !strings.Contains(got[1], "suppressed=49") {
		t.Fatalf("after 10 s the next refusal should be logged with the 49 left out:\n%s", strings.Join(got, "\n"))
	}
}
