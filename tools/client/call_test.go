package client

import (
	"errors"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

func TestCallEchoMedia(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{NodeUUID: "node-1"})
	c := dial(t, ctx, testOptions(srv.URL()))

	call, err := c.Call(ctx, "9196", CallOptions{Audio: Tone(1000), ProbeInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("WaitAnswered: %v", err)
	}
	if err := call.WaitReceived(ctx, 25); err != nil {
		t.Fatalf("WaitReceived: %v", err)
	}
	if err := call.WaitRTT(ctx, 2); err != nil {
		t.Fatalf("WaitRTT: %v (report %+v)", err, call.Report())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report:\n%s", r)
	if r.RTPPacketsSent == 0 || r.RTPPacketsReceived < 25 {
		t.Errorf("packets sent %d received %d", r.RTPPacketsSent, r.RTPPacketsReceived)
	}
	if r.NodeUUID != "node-1" || r.HangupCause != "NORMAL_CLEARING" || r.HangupCauseCode != 16 || r.EndedBy != EndedByLocal {
		t.Errorf("report %+v", r)
	}
	if r.Codec != "PCMU" || r.RTTSamples < 2 || r.RTTMS <= 0 {
		t.Errorf("codec %q rtt %v (%d)", r.Codec, r.RTTMS, r.RTTSamples)
	}
	if r.LossPct != 0 {
		t.Errorf("loss %v%% on loopback without drops", r.LossPct)
	}
	_ = verto.MethodBye
}

func TestCallDTMFHoldAndNodeUUID(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{NodeUUID: "node-7"})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "9664", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	if err := call.SendDTMF(ctx, "12#"); err != nil {
		t.Fatalf("SendDTMF: %v", err)
	}
	if st, err := call.Hold(ctx); err != nil || st != verto.HoldStateHeld || call.State() != StateHeld {
		t.Fatalf("Hold: %q %v, state %s", st, err, call.State())
	}
	if ci, _ := srv.CallInfo(call.ID()); !ci.Held || ci.DTMF != "12#" {
		t.Errorf("server sees %+v", ci)
	}
	if st, err := call.Unhold(ctx); err != nil || st != verto.HoldStateActive || call.State() != StateActive {
		t.Fatalf("Unhold: %q %v, state %s", st, err, call.State())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	if r.DTMFSent != "12#" || r.Holds != 1 {
		t.Errorf("report dtmf %q holds %d", r.DTMFSent, r.Holds)
	}

	// every call method after verto.trying carries node_uuid, at the top
	// level and in dialogParams; dialogParams has what verto.js puts there
	seen := map[string]bool{}
	for _, m := range srv.Messages() {
		switch m.Msg.Method {
		case verto.MethodInfo, verto.MethodModify, verto.MethodBye:
		default:
			continue
		}
		seen[m.Msg.Method] = true
		dp, _ := m.Params["dialogParams"].(map[string]any)
		if m.Params["node_uuid"] != "node-7" || dp["node_uuid"] != "node-7" {
			t.Errorf("%s without node_uuid: %v", m.Msg.Method, m.Params)
		}
		if dp["callID"] != call.ID() || dp["destination_number"] != "9664" || dp["login"] != testUser ||
			dp["caller_id_number"] != "1000" || dp["useVideo"] != false || m.Params["sessid"] != c.Sessid() {
			t.Errorf("%s dialogParams %v", m.Msg.Method, dp)
		}
	}
	if len(seen) != 3 {
		t.Errorf("methods seen %v", seen)
	}
	// call-scoped server requests were acknowledged with {method}
	acked := map[string]bool{}
	for _, m := range srv.Messages() {
		if m.Msg.Kind() != verto.KindResult {
			continue
		}
		var ack verto.AckResult
		_ = m.Msg.DecodeResult(&ack)
		acked[ack.Method] = true
	}
	if !acked[verto.MethodTrying] || !acked[verto.MethodAnswer] || acked[verto.MethodClientReady] {
		t.Errorf("acks %v", acked)
	}
}

func TestCallEndings(t *testing.T) {
	tests := []struct {
		name      string
		dest      string
		cfg       vertotest.Config
		serverBye verto.Cause // the server hangs up after the answer
		wantCause string
		wantBy    string
		inviteErr bool
	}{
		{name: "remote bye", dest: "echo", serverBye: verto.CauseNormalClearing, wantCause: "NORMAL_CLEARING", wantBy: EndedByRemote},
		{name: "remote media timeout", dest: "echo", serverBye: verto.CauseMediaTimeout, wantCause: "MEDIA_TIMEOUT", wantBy: EndedByRemote},
		{name: "busy", dest: "busy", wantCause: "USER_BUSY", wantBy: EndedByRemote},
		{name: "invite error", dest: "error", wantCause: "NO_ROUTE_DESTINATION", wantBy: EndedByError, inviteErr: true},
		{name: "early media", dest: "echo", cfg: vertotest.Config{EarlyMedia: true}, serverBye: verto.CauseNormalClearing,
			wantCause: "NORMAL_CLEARING", wantBy: EndedByRemote},
		{name: "plain mod_verto", dest: "echo", cfg: vertotest.Config{NodeUUID: ""}, serverBye: verto.CauseNormalClearing,
			wantCause: "NORMAL_CLEARING", wantBy: EndedByRemote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := start(t, 30*time.Second)
			ev := &events{}
			srv := newServer(t, tt.cfg)
			o := testOptions(srv.URL())
			o.OnEvent = ev.add
			c := dial(t, ctx, o)
			call, err := c.Call(ctx, tt.dest, CallOptions{})
			if tt.inviteErr {
				var he *HangupError
				if !errors.As(err, &he) || he.Cause != tt.wantCause {
					t.Fatalf("Call error %v, want cause %s", err, tt.wantCause)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.serverBye == verto.CauseNone {
				err := call.WaitAnswered(ctx)
				var he *HangupError
				if !errors.As(err, &he) || he.Cause != tt.wantCause {
					t.Fatalf("WaitAnswered = %v, want cause %s", err, tt.wantCause)
				}
			} else {
				if err := call.WaitAnswered(ctx); err != nil {
					t.Fatal(err)
				}
				if err := call.WaitReceived(ctx, 5); err != nil {
					t.Fatal(err)
				}
				if err := srv.Bye(call.ID(), tt.serverBye); err != nil {
					t.Fatal(err)
				}
			}
			if err := call.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			r := call.Report()
			if r.HangupCause != tt.wantCause || r.EndedBy != tt.wantBy {
				t.Errorf("report cause %s by %s, want %s by %s", r.HangupCause, r.EndedBy, tt.wantCause, tt.wantBy)
			}
			if tt.cfg.EarlyMedia && !ev.has(EventEarly) {
				t.Error("no early media event")
			}
			if tt.cfg.NodeUUID == "" && r.NodeUUID != "" {
				t.Errorf("node_uuid %q from a plain server", r.NodeUUID)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Errorf("Hangup after the end: %v", err)
			}
		})
	}
}

// Loss is computed from sequence numbers: the far end drops every 5th
// packet it echoes.
func TestCallLoss(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{EchoDropEvery: 5})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "echo", CallOptions{NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitReceived(ctx, 40); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	if r.LossPct < 15 || r.LossPct > 25 || r.RTPPacketsLost <= 0 {
		t.Errorf("loss %.2f%% (lost %d of %d), want about 20%%", r.LossPct, r.RTPPacketsLost, r.RTPPacketsExpected)
	}
}

// A far end that only takes opus: opus silence flows; the round trip comes
// from the client's own packets returned by the echo (as FreeSWITCH's
// echo returns them).
func TestCallOpusOnly(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{Codecs: []string{"opus"}})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "echo", CallOptions{ProbeInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitRTT(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	if r.Codec != "opus" || r.Audio != "opus silence" || r.RTTSamples < 2 || r.RTTMS <= 0 {
		t.Errorf("report %+v", r)
	}
}

func TestCallDurationAndDTMFOptions(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "echo", CallOptions{Duration: 600 * time.Millisecond, DTMF: "55", DTMFDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	if r.EndedBy != EndedByLocal || r.DTMFSent != "55" || r.DurationMS < 550 {
		t.Errorf("report %+v", r)
	}
	if ci, _ := srv.CallInfo(call.ID()); ci.DTMF != "55" || !ci.Ended {
		t.Errorf("server %+v", ci)
	}
}
