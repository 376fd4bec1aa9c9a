package client

import (
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

func TestReload(t *testing.T) {
	for _, other := range []bool{false, true} {
		name := "same URL"
		if other {
			name = "other URL"
		}
		t.Run(name, func(t *testing.T) {
			ctx := start(t, 40*time.Second)
			srv := newServer(t, vertotest.Config{NodeUUID: "node-3"})
			ev := &events{}
			o := testOptions(srv.URL())
			o.OnEvent = ev.add
			c := dial(t, ctx, o)
			call, err := c.Call(ctx, "echo", CallOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := call.WaitReceived(ctx, 10); err != nil {
				t.Fatal(err)
			}
			before := call.Report()
			url := ""
			if other {
				url = srv.AddListener()
			}
			if err := c.Reload(ctx, url); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			if other && c.URL() != url {
				t.Errorf("URL after reload %s", c.URL())
			}
			if call.State() != StateActive {
				t.Fatalf("state after reload %s", call.State())
			}
			if err := call.WaitReceived(ctx, before.RTPPacketsReceived+20); err != nil {
				t.Fatalf("no media after reload: %v", err)
			}
			if got := c.Reattached(); len(got) != 1 || got[0] != call.ID() {
				t.Errorf("reattached_sessions %v", got)
			}
			if err := call.SendDTMF(ctx, "9"); err != nil {
				t.Fatalf("DTMF after reload: %v", err)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			r := call.Report()
			t.Logf("report:\n%s", r)
			if r.Reloads != 1 || c.Reloads() != 1 || r.HangupCause != "NORMAL_CLEARING" || r.EndedBy != EndedByLocal {
				t.Errorf("report %+v", r)
			}
			if ci, _ := srv.CallInfo(call.ID()); ci.Attaches != 1 || ci.DTMF != "9" {
				t.Errorf("server %+v", ci)
			}
			// the client answered verto.attach with verto.attach and the new SDP
			att, err := srv.WaitFor(ctx, func(r vertotest.Received) bool { return r.Msg.Method == verto.MethodAttach })
			if err != nil {
				t.Fatal(err)
			}
			if att.Params["sdp"] == "" || att.Params["node_uuid"] != "node-3" {
				t.Errorf("verto.attach %v", att.Params)
			}
			if !ev.has(EventReloaded) || !ev.has(EventAttached) {
				t.Error("missing reload events")
			}
		})
	}
}

// An unanswered call does not survive a reload (the server hangs it up).
func TestReloadDropsRingingCall(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "noanswer", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if r := call.Report(); r.EndedBy != EndedByReload || r.HangupCause != "DESTINATION_OUT_OF_ORDER" {
		t.Errorf("report %+v", r)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("client after reload: %v", err)
	}
}
