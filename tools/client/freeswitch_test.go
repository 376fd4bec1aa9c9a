package client

import (
	"strings"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

// The fake server behaves like stock FreeSWITCH (no a=mid, no BUNDLE, one
// transport per section, the client's own SSRC echoed, early media before
// the answer, a new SSRC after a transfer, media re-offers with
// verto.attach): the client must get audio back in every case.
func TestLikeStockFreeSWITCH(t *testing.T) {
	tests := []struct {
		name  string
		dest  string
		check func(t *testing.T, srv *vertotest.Server, call *Call, ev *events)
	}{
		{name: "echo returns the client's own SSRC", dest: "9196", check: func(t *testing.T, srv *vertotest.Server, call *Call, _ *events) {
			inv, err := srv.WaitFor(t.Context(), func(r vertotest.Received) bool { return r.Msg.Method == verto.MethodInvite })
			if err != nil {
				t.Fatal(err)
			}
			if sdp, _ := inv.Params["sdp"].(string); strings.Contains(sdp, "a=cryptex") {
				t.Errorf("the offer asks for cryptex, which FreeSWITCH does not know:\n%s", sdp)
			}
		}},
		{name: "early media before the answer", dest: "early", check: func(t *testing.T, _ *vertotest.Server, call *Call, ev *events) {
			r := call.Report()
			if !ev.has(EventEarly) || r.FirstRTPMS <= 0 || r.FirstRTPMS >= r.SetupMS {
				t.Errorf("no media before the answer: first RTP %.1f ms, answer %.1f ms", r.FirstRTPMS, r.SetupMS)
			}
		}},
		{name: "SSRC change mid-call", dest: "transfer", check: func(t *testing.T, _ *vertotest.Server, call *Call, _ *events) {
			if err := call.WaitReceived(t.Context(), 120); err != nil {
				t.Fatalf("media stopped at the SSRC change: %v (%s)", err, call.Report())
			}
			call.mu.Lock()
			streams := call.rx.streams
			call.mu.Unlock()
			if streams != 2 {
				t.Errorf("%d streams, want 2", streams)
			}
		}},
		{name: "media re-offer", dest: "9196", check: func(t *testing.T, srv *vertotest.Server, call *Call, ev *events) {
			before := call.Report().RTPPacketsReceived
			if err := srv.Reoffer(call.ID()); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.WaitCall(t.Context(), call.ID(), func(ci vertotest.CallInfo) bool { return ci.Attaches == 1 }); err != nil {
				t.Fatal(err)
			}
			if err := call.WaitReceived(t.Context(), before+30); err != nil {
				t.Fatalf("no media after the re-offer: %v", err)
			}
			if r := call.Report(); r.Reattached != 1 || r.Reloads != 0 || !ev.has(EventAttached) {
				t.Errorf("report %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := start(t, 30*time.Second)
			srv := newServer(t, vertotest.Config{})
			_, call, ev := answeredCall(t, ctx, srv, tt.dest, CallOptions{ProbeInterval: 200 * time.Millisecond})
			if err := call.WaitReceived(ctx, 25); err != nil {
				t.Fatalf("no audio back: %v (%s)", err, call.Report())
			}
			tt.check(t, srv, call, ev)
			if err := call.WaitRTT(ctx, 1); err != nil {
				t.Errorf("no audio round trip: %v", err)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			r := call.Report()
			t.Logf("report:\n%s", r)
			if r.HangupCause != "NORMAL_CLEARING" || r.LossPct > 1 || r.MOS < 4 {
				t.Errorf("report %+v", r)
			}
		})
	}
}

// FreeSWITCH offers opus as payload type 116 (not the client's 111): the
// answer must keep the offer's payload types or FreeSWITCH sends what the
// client's peer connection does not expect.
func TestAnswerKeepsOfferPayloadTypes(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{Codecs: []string{"opus"}})
	c := dial(t, ctx, testOptions(srv.URL()))
	if _, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{}); err != nil {
		t.Fatal(err)
	}
	call := <-c.Incoming()
	if err := call.Answer(ctx, CallOptions{}); err != nil {
		t.Fatal(err)
	}
	ans, err := srv.WaitFor(ctx, func(r vertotest.Received) bool { return r.Msg.Method == verto.MethodAnswer })
	if err != nil {
		t.Fatal(err)
	}
	if sdp, _ := ans.Params["sdp"].(string); !strings.Contains(sdp, "a=rtpmap:116 opus/48000") {
		t.Errorf("the answer does not keep opus as 116:\n%s", sdp)
	}
	if err := call.WaitReceived(ctx, 25); err != nil {
		t.Fatalf("no audio: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}
