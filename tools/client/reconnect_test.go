package client

import (
	"errors"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

func reconnectOptions(url string, ev *events) Options {
	o := testOptions(url)
	o.Reconnect = true
	o.ReconnectDelay = 50 * time.Millisecond
	o.ReconnectMaxDelay = 200 * time.Millisecond
	o.OnEvent = ev.add
	return o
}

// A lost socket: the client reconnects with the same sessid, answers the
// server's verto.attach and the call's audio goes on.
func TestReconnectKeepsCall(t *testing.T) {
	for _, failover := range []bool{false, true} {
		name := "same URL"
		if failover {
			name = "failover to the next URL"
		}
		t.Run(name, func(t *testing.T) {
			ctx := start(t, 40*time.Second)
			srv := newServer(t, vertotest.Config{NodeUUID: "node-5"})
			other := srv.AddListener()
			ev := &events{}
			o := reconnectOptions(srv.URL(), ev)
			o.URLs = []string{other}
			c := dial(t, ctx, o)
			call, err := c.Call(ctx, "echo", CallOptions{ProbeInterval: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitReceived(ctx, 25); err != nil {
				t.Fatal(err)
			}
			before := call.Report().RTPPacketsReceived
			if failover {
				srv.StopListener(srv.URL()) // the XCtrl instance dies
			} else if err := srv.DropSocket(c.Sessid()); err != nil {
				t.Fatal(err)
			}
			if err := ev.wait(ctx, EventReconnected); err != nil {
				t.Fatalf("no reconnect: %v", err)
			}
			if _, err := srv.WaitCall(ctx, call.ID(), func(ci vertotest.CallInfo) bool { return ci.Attaches == 1 }); err != nil {
				t.Fatal(err)
			}
			if err := call.WaitReceived(ctx, before+30); err != nil {
				t.Fatalf("no media after the reconnect: %v (%s)", err, call.Report())
			}
			if failover && c.URL() != other {
				t.Errorf("reconnected to %s, want %s", c.URL(), other)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			r := call.Report()
			t.Logf("report:\n%s", r)
			if r.Reconnects != 1 || r.Reattached != 1 || r.Reloads != 0 || c.Reconnects() != 1 ||
				r.HangupCause != "NORMAL_CLEARING" || r.EndedBy != EndedByLocal {
				t.Errorf("report %+v, client reconnects %d", r, c.Reconnects())
			}
			if r.MaxMediaGapMS <= 40 {
				t.Errorf("longest media gap %.1f ms: the server stopped the media for the re-attach", r.MaxMediaGapMS)
			}
			// the same sessid logged in again
			var logins int
			for _, m := range srv.Messages() {
				if m.Msg.Method == verto.MethodLogin && m.Params["sessid"] == c.Sessid() && m.Params["login"] != nil {
					logins++
				}
			}
			if logins != 2 {
				t.Errorf("%d logins with credentials and sessid %s, want 2", logins, c.Sessid())
			}
		})
	}
}

// An unanswered call does not survive a lost socket (the server hangs it
// up); the client goes on.
func TestReconnectDropsRingingCall(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	ev := &events{}
	c := dial(t, ctx, reconnectOptions(srv.URL(), ev))
	call, err := c.Call(ctx, "noanswer", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.DropSocket(c.Sessid()); err != nil {
		t.Fatal(err)
	}
	if err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if r := call.Report(); r.EndedBy != EndedBySocket || r.HangupCause != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("report %+v", r)
	}
	if err := ev.wait(ctx, EventReconnected); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("client after the reconnect: %v", err)
	}
}

// Nobody to reconnect to: the client gives up after ReconnectTimeout and
// ends; Close during the attempts returns at once.
func TestReconnectGivesUp(t *testing.T) {
	for _, closeEarly := range []bool{false, true} {
		t.Run(map[bool]string{false: "timeout", true: "close"}[closeEarly], func(t *testing.T) {
			ctx := start(t, 30*time.Second)
			srv := newServer(t, vertotest.Config{})
			ev := &events{}
			o := reconnectOptions(srv.URL(), ev)
			o.ReconnectTimeout = 400 * time.Millisecond
			if closeEarly {
				o.ReconnectTimeout = time.Minute
			}
			c := dial(t, ctx, o)
			call, err := c.Call(ctx, "echo", CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitReceived(ctx, 5); err != nil {
				t.Fatal(err)
			}
			srv.StopListener(srv.URL())
			if err := ev.wait(ctx, EventReconnecting); err != nil {
				t.Fatal(err)
			}
			if closeEarly {
				t0 := time.Now()
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(t0); d > 2*time.Second {
					t.Errorf("Close took %s while reconnecting", d)
				}
				if r := call.Report(); r.EndedBy != EndedByClose {
					t.Errorf("report %+v", r)
				}
				return
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
				t.Fatal("the client did not give up")
			}
			if !errors.Is(c.Err(), ErrSocketClosed) {
				t.Errorf("client error %v", c.Err())
			}
			if r := call.Report(); r.EndedBy != EndedBySocket {
				t.Errorf("report %+v", r)
			}
		})
	}
}
