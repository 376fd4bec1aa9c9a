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

// Chats the switch sends to nobody (a user with no socket, an address
// without a domain) are logged at most once every 10 s each: an operator's
// chat plan that routes every client chat to the endpoint would otherwise
// write a line to the switch's log for each of them.
func TestChatsToNobodyDoNotFloodTheLog(t *testing.T) {
	var logged lockedBuffer
	e := newEnv(t, func(o *xrtc.Options) { o.Log = slog.New(slog.NewTextHandler(&logged, nil)) })
	asked := contacts(t, e, "cn.xswitch.ctrl.rtc")
	e.answered("call-1")
	for range 50 {
		for _, to := range []string{"1009@xswitch.cn", "1009"} {
			if err := e.ep.SendChatToUser(xrtc.UserChat{From: "1001@xswitch.cn", To: to, Body: "hi"}); err != nil {
				t.Fatal(err)
			}
		}
		<-asked
	}
	// Chats are delivered in order: once this one is, the 50 are.
	if err := e.ep.SendChatToUser(xrtc.UserChat{From: "1001@xswitch.cn", To: "1000@xswitch.cn", Body: "in call", CallID: "call-1"}); err != nil {
		t.Fatal(err)
	}
	e.ctrl.Expect(t, verto.MethodInfo)
	for _, line := range []string{"chat to a user with no socket", "chat to an address without a domain"} {
		if got := logged.lines(line); len(got) != 1 {
			t.Errorf("50 chats logged %d lines %q, want 1:\n%s", len(got), line, strings.Join(got, "\n"))
		}
	}
}
