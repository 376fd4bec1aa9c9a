package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// TestMediaTimeout: the node's profile has media-timeout 1500 ms. A
// browser calls 9198 (the node sends nothing), sends audio for a second,
// then stops sending RTP while its ICE consent checks and RTCP reports go
// on: the node hangs up with MEDIA_TIMEOUT (804) 1 to 1.25 timeouts after
// the last packet, and the browser gets verto.bye with that cause through
// XCtrl.
//
// The caller is a bare pion peer speaking Verto (rawConn, rawPeer): the
// client library always sends RTP (its "silence" is silent RTP, which must
// not and does not trigger media-timeout: see
// TestMediaTimeoutSilentClientIsNotHungUp).
func TestMediaTimeout(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1, Node: func(_ int, c *xrtc.Config) {
		c.Profiles[verto.DefaultProfile].MediaTimeout = timeout
	}}, 30*time.Second)

	rc := e.rawDial(1)
	rc.login(1000)
	p, err := newRawPeer()
	fatalIf(t, err, "peer")
	e.onClose(p.close)
	sdp, err := p.offer(e.ctx)
	fatalIf(t, err, "offer")

	callID := "mt-" + rc.sessid[:8]
	r := rc.request(verto.MethodInvite, map[string]any{"sessid": rc.sessid, "sdp": sdp, "dialogParams": map[string]any{
		"callID": callID, "destination_number": "9198", "caller_id_name": "raw", "caller_id_number": "1000",
	}})
	if r.Error != nil {
		t.Fatalf("invite: %v", r.Error)
	}
	ans := rc.next(e.ctx, "verto.answer", func(m *verto.Message) bool { return m.Method == verto.MethodAnswer })
	var ap verto.ServerCallParams
	fatalIf(t, ans.DecodeParams(&ap), "answer params")
	if ap.CallID != callID || ap.SDP == "" {
		t.Fatalf("answer %s", ans.Params)
	}

	fatalIf(t, p.pc.SetRemoteDescription(sdpAnswer(ap.SDP)), "remote answer")
	select {
	case <-p.connected:
	case <-e.ctx.Done():
		t.Fatal("ICE/DTLS did not connect")
	}

	ch := e.st.Channel(callID)
	if ch == nil {
		t.Fatal("no node channel")
	}
	// One second of audio, then nothing.
	fatalIf(t, p.sendSilence(e.ctx, 50), "send")
	stopped := time.Now()
	e.eventually("the audio at the node", func() bool { return ch.Stats().RTPIn >= 40 })
	at := ch.Stats()

	bye := rc.next(e.ctx, "verto.bye", func(m *verto.Message) bool { return m.Method == verto.MethodBye })
	took := time.Since(stopped)
	var bp struct {
		CallID    string      `json:"callID"`
		Cause     string      `json:"cause"`
		CauseCode json.Number `json:"causeCode"`
	}
	fatalIf(t, bye.DecodeParams(&bp), "bye params")
	if bp.CallID != callID || bp.Cause != "MEDIA_TIMEOUT" || bp.CauseCode != "804" {
		t.Errorf("bye %s, want MEDIA_TIMEOUT 804", bye.Params)
	}
	if took < timeout || took > timeout*5/4+time.Second {
		t.Errorf("hung up %v after the last packet, want %v..%v", took, timeout, timeout*5/4)
	}
	if ch.Cause() != verto.CauseMediaTimeout {
		t.Errorf("node channel cause %s", ch.Cause())
	}
	// ICE consent stayed fresh until the node closed the connection:
	// the peer never saw it disconnected or failed.
	if lost := p.iceLost(); lost != "" {
		t.Errorf("ICE went %s before the hang-up; media-timeout must fire with ICE alive", lost)
	}
	end := ch.Stats()
	t.Logf("MEDIA_TIMEOUT %v after the last RTP packet; meanwhile the node got %d RTCP packets (and no RTP)",
		took.Round(time.Millisecond), end.RTCPIn-at.RTCPIn)
	if end.RTPIn > 50 {
		t.Errorf("the node got %d RTP packets, 50 were sent", end.RTPIn)
	}
	if end.RTCPIn <= at.RTCPIn {
		t.Errorf("no RTCP after the RTP stopped (%d -> %d): the scenario needs RTCP going on", at.RTCPIn, end.RTCPIn)
	}
}
