package xrtc

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"xccrtc/verto"
)

// A refused state change is a bug: it is logged with the call and counted,
// and the call stays where it was.
func TestMoveLockedLogsRefusedTransitions(t *testing.T) {
	var buf bytes.Buffer
	e := &Endpoint{log: slog.New(slog.NewTextHandler(&buf, nil))}
	c := &Call{id: "c1", state: StateHangup}
	c.mu.Lock()
	moved := e.moveLocked(c, StateActive)
	c.mu.Unlock()
	if moved || c.state != StateHangup {
		t.Fatalf("moved %v, state %s", moved, c.state)
	}
	if e.stats.badTransitions.Load() != 1 || !strings.Contains(buf.String(), "call_id=c1") || !strings.Contains(buf.String(), "hangup -> active") {
		t.Errorf("not logged or counted: %d %q", e.stats.badTransitions.Load(), buf.String())
	}
	c.state = StateTrying
	c.mu.Lock()
	moved = e.moveLocked(c, StateRinging)
	c.mu.Unlock()
	if !moved || c.state != StateRinging || e.stats.badTransitions.Load() != 1 {
		t.Errorf("allowed move: moved %v, state %s", moved, c.state)
	}
}

// The status subject's handler recovers a panic like every other entry
// point: in FreeSWITCH a panic on the NATS goroutine ends the process.
func TestStatusSubjectRecovers(t *testing.T) {
	var panicked any
	e := &Endpoint{log: slog.New(slog.DiscardHandler), opts: Options{OnPanic: func(v any) { panicked = v }}}
	m, err := verto.NewRequest(verto.StringID("1"), verto.MethodCtrlStartUp, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Marshal()
	// No goroutine tracker: answering the XCtrl panics (nil pointer).
	e.onStatusSubject("cn.xswitch.status.node", "", b)
	if panicked == nil || e.stats.panics.Load() != 1 {
		t.Fatalf("no panic recovered (%v)", panicked)
	}
}
