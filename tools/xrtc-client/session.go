package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"xccrtc/tools/client"
)

// follow keeps an answered call going until it ends: status line, hold and
// unhold, reload; a signal (ctx done) hangs it up.
func follow(ctx context.Context, c *client.Client, call *client.Call, mf *mediaFlags, con *console) {
	var reloadC, holdC, unholdC <-chan time.Time
	if mf.reloadAfter > 0 {
		t := time.NewTimer(mf.reloadAfter)
		defer t.Stop()
		reloadC = t.C
	}
	if mf.holdAfter > 0 {
		t := time.NewTimer(mf.holdAfter)
		defer t.Stop()
		holdC = t.C
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	defer con.clear()
	for {
		select {
		case <-call.Done():
			return
		case <-c.Done():
			<-call.Done()
			return
		case <-ctx.Done():
			hangup(call, con)
			return
		case <-reloadC:
			con.eventf("reloading: dropping the WebSocket, reconnecting with sessid %s", c.Sessid())
			if err := c.Reload(ctx, mf.reloadURL); err != nil {
				con.errorf("reload: %v", err)
			}
		case <-holdC:
			if st, err := call.Hold(ctx); err != nil {
				con.errorf("hold: %v", err)
			} else {
				con.eventf("hold state %s", st)
				t := time.NewTimer(mf.holdFor)
				defer t.Stop()
				unholdC = t.C
			}
		case <-unholdC:
			if st, err := call.Unhold(ctx); err != nil {
				con.errorf("unhold: %v", err)
			} else {
				con.eventf("hold state %s", st)
			}
		case <-tick.C:
			con.setStatus(statusLine(call.Report()))
		}
	}
}

// hangup ends a call after a signal, with a context of its own.
func hangup(call *client.Call, con *console) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if call.Direction() == client.DirectionInbound && call.State() == client.StateRinging {
		_ = call.Reject(ctx, 0)
		return
	}
	if err := call.Hangup(ctx); err != nil {
		con.errorf("hangup: %v", err)
	}
}

// failedReport is the report of a call that never got a Call (dial or
// invite failure).
func failedReport(dest string, err error) client.Report {
	r := client.Report{Direction: string(client.DirectionOutbound), Destination: dest, EndedBy: client.EndedByError, Error: err.Error()}
	var he *client.HangupError
	if errors.As(err, &he) {
		r.HangupCause, r.HangupCauseCode = he.Cause, he.Code
	}
	return r
}

// output prints v: as one JSON line with --json, else as text.
func output(con *console, asJSON bool, v any, text string) {
	if asJSON {
		b, err := json.Marshal(v)
		if err != nil {
			con.errorf("json: %v", err)
			return
		}
		con.print(string(b) + "\n")
		return
	}
	con.print(text)
}

func exitFor(ok bool) int {
	if ok {
		return exitOK
	}
	return exitFailure
}
