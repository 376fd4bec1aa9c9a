//go:build freeswitch

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"xccrtc/ctrl"
	"xccrtc/tools/client"
	"xccrtc/verto"
)

// testDomain is the domain of the test users (XCtrl's MapStore).
const testDomain = "xrtc.test"

// mediaTimeout is the default profile's media-timeout in these tests.
const mediaTimeout = 4 * time.Second

func xrtcConf(natsURL string) string {
	return fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>
<!-- written by the mod_xrtc integration tests -->
<configuration name="xcc-rtc.conf" description="XCC RTC">
  <settings>
    <param name="debug" value="0"/>
    <param name="nats-url" value="%s"/>
  </settings>
  <profiles>
    <profile name="default">
      <param name="media-timeout" value="%d"/>
      <param name="context" value="default"/>
      <param name="dialplan" value="XML"/>
      <param name="outbound-codec-string" value="PCMU,PCMA,opus,VP8"/>
      <param name="rtp-ip" value="127.0.0.1"/>
      <param name="force-register-domain" value="%s"/>
    </profile>
    <profile name="webrtc">
      <param name="rtp-ip" value="$${local_ip_v4}"/>
      <param name="outbound-codec-string" value="opus,PCMU"/>
    </profile>
  </profiles>
</configuration>
`, natsURL, mediaTimeout.Milliseconds(), testDomain)
}

// TestFreeSWITCH runs every real-FreeSWITCH check against one FreeSWITCH.
func TestFreeSWITCH(t *testing.T) {
	f := startFreeSWITCH(t, xrtcConf)
	t.Logf("FreeSWITCH %s", strings.TrimSpace(f.mustCLI("version")))

	x := startXCtrl(t, f)

	var nodeUUID string
	t.Run("load", func(t *testing.T) { nodeUUID = testLoad(t, f) })
	if nodeUUID == "" {
		t.FailNow()
	}
	t.Run("bad-config", func(t *testing.T) { testBadConfig(t, f) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	err := x.WaitNodes(ctx, func(ns []verto.Node) bool {
		for _, n := range ns {
			if n.UUID == nodeUUID {
				return true
			}
		}
		return false
	})
	cancel()
	if err != nil {
		t.Fatalf("XCtrl does not see node %s: %v", nodeUUID, err)
	}
	t.Run("inbound-echo", func(t *testing.T) { testInboundEcho(t, f, x, nodeUUID) })
	t.Run("client-echo", func(t *testing.T) { testClientEcho(t, f, x) })
	t.Run("originate", func(t *testing.T) { testOriginate(t, f, x) })
	t.Run("originate-forms", func(t *testing.T) { testOriginateForms(t, f, x) })
	t.Run("call-controls", func(t *testing.T) { testCallControls(t, f, x) })
	t.Run("reattach", func(t *testing.T) { testReattach(t, f, x) })
	t.Run("conference", func(t *testing.T) { testConference(t, f, x) })
	t.Run("directory-vars", func(t *testing.T) { testDirectoryVars(t, f, x) })
	t.Run("originator-codec", func(t *testing.T) { testOriginatorCodec(t, f, x) })
	t.Run("bypass-media", func(t *testing.T) { testBypassMedia(t, f, x) })
	t.Run("ext-rtp-ip", func(t *testing.T) { testExtRTPIP(t, f, x) })
	t.Run("late-negotiation", func(t *testing.T) { testLateNegotiation(t, f, x) })
	t.Run("answer-data", func(t *testing.T) { testAnswerData(t, f, x) })
	t.Run("client-address", func(t *testing.T) { testClientAddress(t, f, nodeUUID) })
	t.Run("sdp-unchanged", func(t *testing.T) { testSDPUnchanged(t, f, x) })
	t.Run("hostile-sdp", func(t *testing.T) { testHostileSDP(t, f) })
	t.Run("hostile-params", func(t *testing.T) { testHostileParams(t, f) })
	t.Run("hold-flood", func(t *testing.T) { testHoldFlood(t, f) })
	t.Run("api-expansion", func(t *testing.T) { testAPIExpansion(t, f) })
	t.Run("moderator-expansion", func(t *testing.T) { testModeratorExpansion(t, f, x) })
	t.Run("calls-per-user", func(t *testing.T) { testCallsPerUser(t, f) })
	t.Run("video", func(t *testing.T) { testVideo(t, f, x) })
	t.Run("warnings", func(t *testing.T) { testConfigWarnings(t, f) })
	t.Run("unload-invites", func(t *testing.T) { testUnloadWithInvites(t, f, x, nodeUUID) })
	t.Run("media-timeout", func(t *testing.T) { testMediaTimeout(t, f, x) })
	t.Run("silence-is-media", func(t *testing.T) { testSilenceIsMedia(t, f, x) })
	t.Run("shutdown", func(t *testing.T) { testShutdown(t, f, x) })
}

// testLogger logs to the test when XRTC_TEST_VERBOSE is set.
func testLogger(t *testing.T, name string) *slog.Logger {
	if os.Getenv("XRTC_TEST_VERBOSE") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("who", name)
}

type tlog struct{ t *testing.T }

func (w tlog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startXCtrl runs an XCtrl on the test's NATS with users 1000-1004 of
// testDomain (password 1234).
func startXCtrl(t *testing.T, f *fsEnv) *ctrl.Server {
	t.Helper()
	return startXCtrlWith(t, f, nil, nil)
}

// startXCtrlWith is startXCtrl with the users' directory params and
// XCtrl's configuration changed.
func startXCtrlWith(t *testing.T, f *fsEnv, params func(user int) map[string]string, config func(*ctrl.Config)) *ctrl.Server {
	t.Helper()
	users := ctrl.MapStore{}
	for i := 1000; i < 1005; i++ {
		// Directory variables as FreeSWITCH's stock users have them, the
		// toll class narrowed: the login's userVariables must not widen it.
		var p map[string]string
		if params != nil {
			p = params(i)
		}
		u := users.Add(fmt.Sprint(i), testDomain, "1234", p)
		u.Variables["toll_allow"] = "local"
		u.Variables["accountcode"] = fmt.Sprint(i)
		u.Variables["user_context"] = "default"
	}
	cfg := ctrl.Config{
		WSListen:      "127.0.0.1:0",
		NATSURLs:      []string{f.nats.ClientURL()},
		DefaultDomain: testDomain,
		Timers:        ctrl.Timers{NodeSweep: 200 * time.Millisecond},
	}
	if config != nil {
		config(&cfg)
	}
	s, err := ctrl.New(cfg, ctrl.Deps{Users: users, Logger: testLogger(t, "xctrl")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// dial logs user in through XCtrl.
func dial(t *testing.T, x *ctrl.Server, user string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL:      x.WSURL(),
		Login:    user + "@" + testDomain,
		Passwd:   "1234",
		Settings: client.LoopbackSettings(),
		Logger:   testLogger(t, "client "+user),
	})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testBadConfig: with NATS unreachable the module loads at once and keeps
// trying; a configuration with errors is refused with the problem named.
// The good configuration is back at the end.
func testBadConfig(t *testing.T, f *fsEnv) {
	path := filepath.Join(f.dir, "conf", "autoload_configs", "xcc-rtc.conf.xml")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	defer status.Unsubscribe()
	defer func() {
		_ = os.WriteFile(path, good, 0o644)
		_, _ = f.cli("unload mod_xrtc")
		f.mustCLI("load mod_xrtc")
		nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second)
	}()

	f.mustCLI("unload mod_xrtc")
	dead := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	if err := os.WriteFile(path, []byte(xrtcConf(dead)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.mustCLI("load mod_xrtc")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("load took %s with NATS down", took)
	}
	st := f.mustCLI("xrtc status")
	var natsLine string
	for _, l := range strings.Split(st, "\n") {
		if strings.HasPrefix(l, "nats ") {
			natsLine = l
		}
	}
	if natsLine == "" || strings.Contains(natsLine, " CONNECTED") {
		t.Errorf("xrtc status with NATS (%s) down:\n%s", dead, st)
	} else {
		t.Logf("NATS %s down, loaded anyway: %s", dead, natsLine)
	}
	f.mustCLI("unload mod_xrtc")

	bad := strings.Replace(xrtcConf(f.nats.ClientURL()), `name="media-timeout" value="4000"`, `name="media-timeout" value="soon"`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := f.cli("load mod_xrtc"); !strings.Contains(out, "-ERR") {
		t.Errorf("a bad configuration was accepted: %s", out)
	}
	// FreeSWITCH writes its log file a little after the fact.
	var l []string
	for deadline := time.Now().Add(5 * time.Second); len(l) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		l = f.grepLog("mod_xrtc not loaded")
	}
	if len(l) == 0 || !strings.Contains(strings.Join(l, "\n"), "media-timeout") {
		t.Errorf("the refusal does not name the problem: %q", l)
	} else {
		t.Logf("refused: %s", l[len(l)-1])
	}
}

// testInboundEcho: a client calls the echo extension (9196) through XCtrl:
// verto.invite becomes an xrtc channel routed by the dialplan, the answer
// goes back as verto.answer with FreeSWITCH's SDP (ICE, DTLS-SRTP), and the
// client's audio comes back to it.
func testInboundEcho(t *testing.T, f *fsEnv, x *ctrl.Server, nodeUUID string) {
	p := dialPeer(t, x.WSURL(), "1001")
	c := p.call("9196")
	if c.node != nodeUUID {
		t.Errorf("call on node %q, want %q", c.node, nodeUUID)
	}
	if !c.waitReceived(150, 20*time.Second) {
		t.Fatalf("no audio back: %s", c)
	}
	calls := f.mustCLI("xrtc calls")
	t.Logf("xrtc calls:\n%s", calls)
	if !strings.Contains(calls, c.id) || !strings.Contains(calls, "inbound") || !strings.Contains(calls, "active") {
		t.Errorf("xrtc calls lacks the active inbound call %s", c.id)
	}
	if n := rtpIn(calls, c.id); n < 100 {
		t.Errorf("FreeSWITCH counted %d inbound RTP packets", n)
	}
	if show := f.mustCLI("show channels"); !strings.Contains(show, "xrtc/9196") {
		t.Errorf("show channels lacks xrtc/9196:\n%s", show)
	}
	// A channel holds the module: FreeSWITCH refuses to unload it.
	if out, _ := f.cli("unload mod_xrtc"); !strings.Contains(out, "-ERR") {
		t.Errorf("unload with a call up: %s", out)
	}
	if n := c.received.Load(); !c.waitReceived(n+25, 5*time.Second) {
		t.Errorf("media stopped after the refused unload: %s", c)
	}
	t.Logf("%s", c)
	if cause := c.bye(); cause != "NORMAL_CLEARING" {
		t.Errorf("bye cause %q", cause)
	}
	waitNoChannels(t, f)
}

// rtpIn reads the rtp_in column of the call's line in `xrtc calls`.
func rtpIn(calls, id string) int {
	for _, l := range strings.Split(calls, "\n") {
		if strings.HasPrefix(l, id) {
			f := strings.Fields(l)
			n := 0
			fmt.Sscan(f[len(f)-1], &n)
			return n
		}
	}
	return -1
}

// testClientEcho makes the echo call with the shared pion client
// (xccrtc/tools/client) and measures the audio round trip. The client gets
// FreeSWITCH's SDP as it is (no a=mid, no BUNDLE group) and the echo with
// the client's own SSRC, and copes with both, as a browser does.
func testClientEcho(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := c.Call(ctx, "9196", client.CallOptions{Audio: client.Tone(1000)})
	if err != nil {
		t.Fatalf("call 9196: %v", err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	n := 0
	for n < 100 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		n = rtpIn(f.mustCLI("xrtc calls"), call.ID())
	}
	if n < 100 {
		t.Errorf("FreeSWITCH counted %d RTP packets from the client", n)
	}
	if err := call.WaitReceived(ctx, 100); err != nil {
		t.Errorf("no audio back: %v", err)
	} else if err := call.WaitRTT(ctx, 2); err != nil {
		t.Errorf("the echo did not return the probes: %v", err)
	}
	if err := call.Hangup(context.Background()); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.HangupCause != "NORMAL_CLEARING" || r.RTTMS <= 0 || r.RTPPacketsLost > 5 {
		t.Errorf("report: %+v", r)
	}
	waitNoChannels(t, f)
}

// originate runs an fs_cli originate in the background; its output comes
// on the channel when it returns (after the answer, or failing).
func originate(f *fsEnv, dial, app string, prefix ...string) <-chan string {
	out := make(chan string, 1)
	go func() {
		o, err := f.cli(strings.Join(append(prefix, "originate", dial, app), " "))
		if err != nil {
			o += " (" + err.Error() + ")"
		}
		out <- strings.TrimSpace(o)
	}()
	return out
}

// answerIncoming waits for the call XCtrl rings on c and answers it.
func answerIncoming(t *testing.T, c *client.Client) *client.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var call *client.Call
	select {
	case call = <-c.Incoming():
	case <-ctx.Done():
		t.Fatal("no incoming call in 20 s")
	}
	if err := call.Answer(ctx, client.CallOptions{Audio: client.Tone(800)}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	return call
}

// originateAnswered runs `originate DIAL &echo`, answers the call it rings
// on c and returns it with the uuid originate printed.
func originateAnswered(t *testing.T, f *fsEnv, c *client.Client, dial string) (*client.Call, string) {
	t.Helper()
	res := originate(f, dial, "&echo")
	call := answerIncoming(t, c)
	var out string
	select {
	case out = <-res:
	case <-time.After(20 * time.Second):
		t.Fatal("originate did not return after the answer")
	}
	if !strings.HasPrefix(out, "+OK") {
		t.Fatalf("originate: %s", out)
	}
	uuid := strings.TrimSpace(strings.TrimPrefix(out, "+OK"))
	return call, uuid
}

// testOriginate: `originate xrtc/USER@DOMAIN &echo` rings the logged-in
// client through XCtrl (verto.invite with FreeSWITCH's offer); when it
// answers, the echo returns its audio, and a hang-up in FreeSWITCH reaches
// it as verto.bye.
func testOriginate(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1002")
	call, uuid := originateAnswered(t, f, c, "{origination_caller_id_number=9999}xrtc/1002@"+testDomain)
	if uuid != call.ID() {
		t.Errorf("originate uuid %s, client call %s", uuid, call.ID())
	}
	if _, num := call.Remote(); num != "9999" {
		t.Errorf("caller id number %q", num)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := call.WaitReceived(ctx, 100); err != nil {
		t.Fatalf("no audio from FreeSWITCH: %v (%s)", err, call.Report())
	}
	if err := call.WaitRTT(ctx, 2); err != nil {
		t.Fatalf("the echo did not return the probes: %v (%s)", err, call.Report())
	}
	calls := f.mustCLI("xrtc calls")
	t.Logf("xrtc calls:\n%s", calls)
	if !strings.Contains(calls, "outbound") || rtpIn(calls, uuid) < 50 {
		t.Errorf("xrtc calls: no outbound call with media")
	}
	f.mustCLI("uuid_kill " + uuid)
	if err := call.Wait(ctx); err != nil {
		t.Logf("call ended: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.HangupCause != "NORMAL_CLEARING" || r.EndedBy != client.EndedByRemote {
		t.Errorf("hang-up %s by %s", r.HangupCause, r.EndedBy)
	}
	waitNoChannels(t, f)
}

// testOriginateForms: every dial string form reaches the user, and the
// errors have FreeSWITCH causes.
func testOriginateForms(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1003")
	ctrlUUID := x.CtrlUUID()
	direct, queue := "subject=cn.xswitch.ctrl."+ctrlUUID, "subject=cn.xswitch.ctrl.rtc"
	for _, tc := range []struct{ dial, subject string }{
		{"xrtc/default/1003@" + testDomain, queue},
		{"{xcc_ctrl_uuid=" + ctrlUUID + "}xrtc/default/1003@" + testDomain, direct},
		{"xrtc/1003@" + testDomain + ";ctrl_uuid=" + ctrlUUID, direct},
		{"{ctrl_uuid=" + ctrlUUID + "}xrtc/1003@" + testDomain, direct},
		{"xrtc/1003", queue}, // the profile's force-register-domain
	} {
		dial := tc.dial
		res := originate(f, dial, "&park")
		call := answerIncoming(t, c)
		out := <-res
		if !strings.HasPrefix(out, "+OK") {
			t.Errorf("originate %s: %s", dial, out)
			continue
		}
		uuid := strings.TrimSpace(strings.TrimPrefix(out, "+OK"))
		if !waitLog(f, uuid, "login=1003@"+testDomain+" "+tc.subject+" ", time.Second) {
			t.Errorf("originate %s: the invite did not go to %s", dial, tc.subject)
		}
		f.mustCLI("uuid_kill " + uuid)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = call.Wait(ctx)
		cancel()
		t.Logf("%s: answered, %s", dial, call.Report().HangupCause)
	}
	// Nobody answers: the ring timeout (originate_timeout) ends the call,
	// and the ringing client is told.
	res := originate(f, "{originate_timeout=2}xrtc/1003@"+testDomain, "&park")
	var ringing *client.Call
	select {
	case ringing = <-c.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("the unanswered call did not ring")
	}
	if out := <-res; !strings.Contains(out, "NO_ANSWER") {
		t.Errorf("unanswered originate: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = ringing.Wait(ctx)
	cancel()
	if r := ringing.Report(); r.EndedBy != client.EndedByRemote {
		t.Errorf("the ringing client was not told: %s", r)
	} else {
		t.Logf("unanswered: client told %s", r.HangupCause)
	}

	for dial, want := range map[string]string{
		"xrtc/1004@" + testDomain:        "USER_NOT_REGISTERED",
		"xrtc/nosuch/1003@" + testDomain: "CHANNEL_UNACCEPTABLE",
	} {
		out := <-originate(f, dial, "&park")
		if !strings.Contains(out, want) {
			t.Errorf("originate %s: %s, want %s", dial, out, want)
		}
	}
	waitNoChannels(t, f)
}

// testCallControls: DTMF from the client reaches the channel, hold and
// unhold, a display update reaches the client, and a hang-up in FreeSWITCH
// reaches it with its cause.
func testCallControls(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := c.Call(ctx, "9196", client.CallOptions{Audio: client.Tone(1000)})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	id := call.ID()

	// DTMF: verto.info dtmf is queued to the channel (FreeSWITCH logs each
	// digit it queues).
	if err := call.SendDTMF(ctx, "1*9"); err != nil {
		t.Errorf("dtmf: %v", err)
	}
	for _, d := range []string{"digit=1", "digit=*", "digit=9"} {
		if !waitLog(f, id, d, 5*time.Second) {
			t.Errorf("FreeSWITCH did not queue %s", d)
		}
	}

	// Hold and unhold (verto.modify): the channel's media goes on hold.
	if st, err := call.Hold(ctx); err != nil || st != "held" {
		t.Errorf("hold: %q %v", st, err)
	}
	if calls := f.mustCLI("xrtc calls"); !strings.Contains(calls, "held") {
		t.Errorf("xrtc calls does not show the hold:\n%s", calls)
	}
	if dump := f.mustCLI("uuid_dump " + id); !strings.Contains(dump, "Channel-Call-State: HELD") {
		t.Errorf("the channel is not held:\n%s", dump)
	}
	if st, err := call.Unhold(ctx); err != nil || st != "active" {
		t.Errorf("unhold: %q %v", st, err)
	}
	// FreeSWITCH's call state goes HELD -> UNHELD (-> ACTIVE).
	if dump := f.mustCLI("uuid_dump " + id); strings.Contains(dump, "Channel-Call-State: HELD") {
		t.Errorf("the channel is still held:\n%s", dump)
	}

	// Display (SWITCH_MESSAGE_INDICATE_DISPLAY -> verto.display).
	f.mustCLI("uuid_display " + id + " Alice Example|5551234")
	deadline := time.Now().Add(5 * time.Second)
	for {
		name, number := call.Remote()
		if name == "Alice Example" && number == "5551234" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("display not updated: %q %q", name, number)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// DTMF from FreeSWITCH goes out as RFC 2833 (no error is all we see).
	f.mustCLI("uuid_send_dtmf " + id + " 5")

	// Hang-up in FreeSWITCH with a cause.
	f.mustCLI("uuid_kill " + id + " USER_BUSY")
	_ = call.Wait(ctx)
	if r := call.Report(); r.HangupCause != "USER_BUSY" || r.HangupCauseCode != 17 || r.EndedBy != client.EndedByRemote {
		t.Errorf("hang-up: %s (%d) by %s", r.HangupCause, r.HangupCauseCode, r.EndedBy)
	}
	waitNoChannels(t, f)
}

// waitLog waits for a log line of the channel containing s.
func waitLog(f *fsEnv, uuid, s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		for _, l := range f.grepLog(s) {
			if strings.HasPrefix(l, uuid) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testReattach: the client's socket drops (a page reload): XCtrl tells the
// node (xrtc.detach), the channel's media stops; the same sessid logs in
// again (xrtc.login), the node re-offers the call (verto.attach, fresh ICE
// and DTLS from FreeSWITCH), and the media flows again on the same channel.
func testReattach(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	call, err := c.Call(ctx, "9196", client.CallOptions{Audio: client.Tone(1000)})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	if err := call.WaitRTT(ctx, 1); err != nil {
		t.Fatalf("no echo: %v", err)
	}
	before := call.Report().RTPPacketsReceived
	if err := c.Reload(ctx, ""); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := c.Reattached(); len(got) != 1 || got[0] != call.ID() {
		t.Fatalf("reattached_sessions %v, want [%s]", got, call.ID())
	}
	if err := call.WaitReceived(ctx, before+100); err != nil {
		t.Fatalf("no media after the re-attach: %v (%s)", err, call.Report())
	}
	if err := call.WaitRTT(ctx, call.Report().RTTSamples+1); err != nil {
		t.Errorf("no echo after the re-attach: %v", err)
	}
	if !waitLog(f, call.ID(), "call re-attached", 5*time.Second) {
		t.Errorf("no re-attach in FreeSWITCH's log")
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.Reloads != 1 || r.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("report: %+v", r)
	}
	waitNoChannels(t, f)
}

// testConference: two clients in a mod_conference conference (3500, a
// profile with livearray-sync): mod_conference's event channels (pvtData
// join to the member's sessid, liveArray, chat) reach the clients through
// the module's event-channel binding, and their verto.broadcast
// (bootstrap, chat) reaches mod_conference.
func testConference(t *testing.T, f *fsEnv, x *ctrl.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var confs []*client.Conference
	var calls []*client.Call
	for _, u := range []string{"1000", "1004"} {
		c := dial(t, x, u)
		call, err := c.Call(ctx, "3500", client.CallOptions{Audio: client.Tone(600)})
		if err != nil {
			t.Fatalf("%s: call 3500: %v", u, err)
		}
		if err := call.WaitAnswered(ctx); err != nil {
			t.Fatalf("%s: not answered: %v", u, err)
		}
		cf, err := call.WaitConference(ctx)
		if err != nil {
			t.Fatalf("%s: no conference join event: %v", u, err)
		}
		calls = append(calls, call)
		confs = append(confs, cf)
	}
	for i, cf := range confs {
		ms, err := cf.WaitMembers(ctx, func(ms []client.Member) bool { return len(ms) == 2 })
		if err != nil {
			t.Fatalf("client %d: members %v: %v", i, cf.Members(), err)
		}
		t.Logf("client %d sees %d members: %+v (%+v)", i, len(ms), ms, cf.Info())
	}
	if err := confs[0].SendChat(ctx, "hello from 1000"); err != nil {
		t.Fatalf("chat: %v", err)
	}
	select {
	case m := <-confs[1].Chat():
		if m.Message != "hello from 1000" {
			t.Errorf("chat: %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("the chat message did not arrive")
	}
	if err := calls[0].Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	if _, err := confs[1].WaitMembers(ctx, func(ms []client.Member) bool { return len(ms) == 1 }); err != nil {
		t.Errorf("the member who left is still listed: %v", err)
	}
	if err := calls[1].Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	waitNoChannels(t, f)
}

// testMediaTimeout: a client that stops sending RTP while its ICE (consent
// STUN) and RTCP go on is hung up with MEDIA_TIMEOUT (804) after the
// profile's media-timeout: the module counts inbound RTP media packets in
// FreeSWITCH's RTP statistics, which STUN, DTLS and RTCP do not move.
func testMediaTimeout(t *testing.T, f *fsEnv, x *ctrl.Server) {
	p := dialPeer(t, x.WSURL(), "1001")
	c := p.call("9196")
	if !c.waitReceived(50, 10*time.Second) {
		t.Fatalf("no media: %s", c)
	}
	before := strings.Contains(f.mustCLI("xrtc status"), " 0 media timeouts")
	c.sending.Store(false)
	stopped := time.Now()
	cause, code, state := c.waitBye(mediaTimeout*2 + 5*time.Second)
	took := time.Since(stopped)
	t.Logf("verto.bye %s (%s) %s after the last RTP, peer connection still %s; %s", cause, code, took.Round(10*time.Millisecond), state, c)
	if cause != "MEDIA_TIMEOUT" || code != "804" {
		t.Errorf("cause %s (%s), want MEDIA_TIMEOUT (804)", cause, code)
	}
	if state != webrtc.PeerConnectionStateConnected {
		t.Errorf("ICE/DTLS were not up at the hang-up (%s): not the case under test", state)
	}
	// The watch samples every quarter of the timeout.
	if took < mediaTimeout-100*time.Millisecond || took > mediaTimeout*5/4+2*time.Second {
		t.Errorf("hung up %s after the media stopped, media-timeout is %s", took, mediaTimeout)
	}
	if st := f.mustCLI("xrtc status"); !before || !strings.Contains(st, " 1 media timeouts") {
		t.Errorf("xrtc status does not count the media timeout:\n%s", st)
	}
	if l := f.grepLog("no media, hanging up"); len(l) == 0 {
		t.Errorf("no log line about the media timeout")
	}
	waitNoChannels(t, f)
}

// testSilenceIsMedia: a client sending silence (a muted microphone still
// sends RTP) is not hung up.
func testSilenceIsMedia(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := c.Call(ctx, "9196", client.CallOptions{Audio: client.Silence(), NoProbe: true})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	var counts []int
	for range 2 {
		select {
		case <-call.Done():
			t.Fatalf("a call sending silence ended: %s", call.Report())
		case <-time.After(mediaTimeout):
		}
		counts = append(counts, rtpIn(f.mustCLI("xrtc calls"), call.ID()))
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("FreeSWITCH counted %v RTP packets after 1 and 2 media-timeouts; %s", counts, r)
	if counts[0] <= 0 || counts[1] <= counts[0] || r.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("silence was not counted as media, or the call did not last")
	}
	waitNoChannels(t, f)
}

// testShutdown: FreeSWITCH shuts down with a call up: the client gets
// verto.bye, the node says Event.NodeUnregister, and FreeSWITCH (with the Go
// runtime in it) exits.
func testShutdown(t *testing.T, f *fsEnv, x *ctrl.Server) {
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	defer status.Unsubscribe()
	p := dialPeer(t, x.WSURL(), "1001")
	c := p.call("9196")
	if !c.waitReceived(25, 10*time.Second) {
		t.Fatalf("no media: %s", c)
	}
	start := time.Now()
	if out, err := f.cli("shutdown"); err != nil {
		t.Logf("fs_cli shutdown: %v %s", err, out)
	}
	cause, code, _ := c.waitBye(15 * time.Second)
	t.Logf("verto.bye %s (%s)", cause, code)
	if cause != "SYSTEM_SHUTDOWN" {
		t.Errorf("cause %s, want SYSTEM_SHUTDOWN", cause)
	}
	nextMethod(t, status, verto.MethodNodeUnregister, 15*time.Second)
	for f.alive() && time.Since(start) < 30*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	if f.alive() {
		t.Errorf("FreeSWITCH still runs %s after shutdown", time.Since(start))
	} else {
		t.Logf("FreeSWITCH exited %s after shutdown", time.Since(start).Round(10*time.Millisecond))
	}
}

// waitNoChannels waits until FreeSWITCH has no channel left.
func waitNoChannels(t *testing.T, f *fsEnv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := f.cli("show channels count")
		if strings.Contains(out, "0 total.") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channels left: %s", f.mustCLI("show channels"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testLoad: the module loads, registers the endpoint and the API, connects
// to NATS and announces the node; unload + load starts it afresh.
func testLoad(t *testing.T, f *fsEnv) string {
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	defer status.Unsubscribe()

	out := f.mustCLI("load mod_xrtc")
	if !strings.Contains(out, "+OK") {
		t.Fatalf("load mod_xrtc: %s", out)
	}
	reg := nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second)
	var node verto.Node
	if err := json.Unmarshal(reg.Params, &node); err != nil {
		t.Fatal(err)
	}
	t.Logf("Event.NodeRegister: %s", reg.Params)
	if node.UUID == "" || !strings.Contains(node.Version, "FreeSWITCH") {
		t.Errorf("NodeRegister: %+v", node)
	}

	st := f.mustCLI("xrtc status")
	t.Logf("xrtc status:\n%s", st)
	for _, want := range []string{"node_uuid", node.UUID, "CONNECTED", "default", "webrtc", "4000ms", "PCMU,PCMA,opus,VP8", "127.0.0.1"} {
		if !strings.Contains(st, want) {
			t.Errorf("xrtc status lacks %q", want)
		}
	}
	if out := f.mustCLI("module_exists mod_xrtc"); !strings.Contains(out, "true") {
		t.Errorf("module_exists mod_xrtc: %s", out)
	}
	// FreeSWITCH fills its interface table from events, a little later.
	for i := 0; ; i++ {
		out := f.mustCLI("show endpoint")
		if strings.Contains(out, "xrtc,") {
			break
		}
		if i == 50 {
			t.Errorf("show endpoint lacks xrtc:\n%s", out)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := f.mustCLI("xrtc debug 1"); !strings.Contains(out, "+OK debug 1") {
		t.Errorf("xrtc debug 1: %s", out)
	}
	f.mustCLI("xrtc debug 0")
	if out := f.mustCLI("xrtc calls"); !strings.Contains(out, "0 calls") {
		t.Errorf("xrtc calls: %s", out)
	}
	if out := f.mustCLI("xrtc reload"); !strings.Contains(out, "+OK reloaded") {
		t.Errorf("xrtc reload: %s", out)
	}

	// Go cannot be unloaded: unload stops the endpoint (NOUNLOAD keeps the
	// .so mapped), load starts a new one in the same runtime.
	if out, _ := f.cli("unload mod_xrtc"); !strings.Contains(out, "+OK") {
		t.Fatalf("unload mod_xrtc: %s", out)
	}
	nextMethod(t, status, verto.MethodNodeUnregister, 10*time.Second)
	if out, _ := f.cli("xrtc status"); strings.Contains(out, "node_uuid") {
		t.Errorf("xrtc still answers after unload: %s", out)
	}
	f.mustCLI("load mod_xrtc")
	again := nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second)
	var node2 verto.Node
	_ = json.Unmarshal(again.Params, &node2)
	if node2.UUID != node.UUID {
		t.Errorf("node uuid changed across reload: %s -> %s", node.UUID, node2.UUID)
	}
	if st := f.mustCLI("xrtc status"); !strings.Contains(st, "CONNECTED") {
		t.Errorf("after reload, xrtc status:\n%s", st)
	}
	return node.UUID
}
