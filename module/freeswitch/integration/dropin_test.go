//go:build freeswitch

package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
	"xccrtc/tools/client"
	"xccrtc/verto"
)

// mod_xrtc as a drop-in for mod_verto (issue 8): each test below checks one
// thing an operator who replaces mod_verto meets, in FreeSWITCH's stock
// configuration plus these extensions of the tests' own.

// testDialplan is added to the default context (dialplan/default/).
// The SIP legs come from FreeSWITCH itself: the external profile (5080)
// calls the internal one (5060), authenticating as the stock user 1000.
const testDialplan = `<include>
  <!-- written by the mod_xrtc integration tests -->
  <extension name="xrtc-park">
    <condition field="destination_number" expression="^xrtc-park$">
      <action application="park"/>
    </condition>
  </extension>
  <extension name="xrtc-tone">
    <condition field="destination_number" expression="^xrtc-tone$">
      <action application="answer"/>
      <action application="playback" data="tone_stream://%(10000,0,440);loops=-1"/>
    </condition>
  </extension>
  <extension name="xrtc-echo">
    <condition field="destination_number" expression="^xrtc-echo$">
      <action application="answer"/>
      <action application="echo"/>
    </condition>
  </extension>
  <extension name="xrtc-pcma-echo">
    <condition field="destination_number" expression="^xrtc-pcma-echo$">
      <action application="set" data="absolute_codec_string=PCMA"/>
      <action application="answer"/>
      <action application="echo"/>
    </condition>
  </extension>
  <extension name="xrtc-inherit">
    <condition field="destination_number" expression="^xrtc-inherit$">
      <action application="set" data="inherit_codec=true"/>
      <action application="bridge" data="{absolute_codec_string=PCMA,` + sipAuth + `}sofia/external/xrtc-echo@127.0.0.1:5060"/>
    </condition>
  </extension>
  <extension name="xrtc-loopback">
    <condition field="destination_number" expression="^xrtc-loopback$">
      <action application="bridge" data="loopback/xrtc-echo"/>
    </condition>
  </extension>
  <extension name="xrtc-bridge">
    <condition field="destination_number" expression="^xrtc-bridge-(\d+)$">
      <action application="bridge" data="xrtc/$1@` + testDomain + `"/>
    </condition>
  </extension>
  <extension name="xrtc-bypass">
    <condition field="destination_number" expression="^xrtc-bypass-(\d+)$">
      <action application="set" data="bypass_media=true"/>
      <action application="bridge" data="xrtc/$1@` + testDomain + `"/>
    </condition>
  </extension>
</include>
`

// sipAuth makes FreeSWITCH's outgoing SIP leg answer the internal
// profile's challenge as the stock user 1000.
const sipAuth = "sip_auth_username=1000,sip_auth_password=1234"

// sipLeg is a dial string for a SIP call from FreeSWITCH to its own
// internal profile, landing on dest in the default context.
func sipLeg(vars, dest string) string {
	if vars != "" {
		vars += ","
	}
	return "{" + vars + sipAuth + "}sofia/external/" + dest + "@127.0.0.1:5060"
}

// getvar reads a channel variable with uuid_getvar ("" when it is not
// set); a channel that does not exist fails t.
func (f *fsEnv) getvar(t *testing.T, uuid, name string) string {
	t.Helper()
	out, err := f.cli("uuid_getvar " + uuid + " " + name)
	v := strings.TrimSpace(out)
	switch {
	case v == "_undef_" || v == "-ERR no reply": // unset, or set empty
		return ""
	case err != nil || strings.HasPrefix(v, "-ERR"):
		t.Errorf("uuid_getvar %s %s: %v %s", uuid, name, err, v)
		return ""
	}
	return v
}

// hangupAll ends every channel and waits until none is left.
func hangupAll(t *testing.T, f *fsEnv) {
	t.Helper()
	_, _ = f.cli("hupall NORMAL_CLEARING")
	waitNoChannels(t, f)
}

// ---- item 1: the directory's variables win over the client's ----

// testDirectoryVars: a client logs in with userVariables that try to widen
// toll_allow and spoof accountcode; on its call the directory's values
// stand (mod_verto applies the directory user after the client's
// variables), and a name the directory does not set is the client's.
func testDirectoryVars(t *testing.T, f *fsEnv, x *ctrl.Server) {
	p := dialPeerWith(t, x.WSURL(), "1001", map[string]any{"userVariables": map[string]any{
		"toll_allow": "domestic,international,local", "accountcode": "9999",
		"verto_user": "admin@" + testDomain, "x_client_note": "hi",
	}}, pcmu)
	c := p.place("xrtc-park")
	defer hangupAll(t, f)
	for name, want := range map[string]string{
		"toll_allow": "local", "accountcode": "1001", "x_client_note": "hi",
		"verto_user": "1001@" + testDomain, "user_name": "1001", "domain_name": testDomain,
	} {
		if got := f.getvar(t, c.id, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// ---- item 2: the offer of a call to a user is made on the channel's start ----

// testOriginatorCodec: a SIP A-leg that speaks PCMU only bridges to a
// WebRTC user. The offer is made in the xrtc leg's on_init, after the core
// set originator_codec, so it offers the A-leg's codec only, as mod_verto's
// does (switch_core_media_prepare_codecs); the call then needs no
// transcoding, and the client's audio comes back through the SIP legs.
func testOriginatorCodec(t *testing.T, f *fsEnv, x *ctrl.Server) {
	p := dialPeerWith(t, x.WSURL(), "1002", nil, pcmu)
	res := originate(f, sipLeg("absolute_codec_string=PCMU", "xrtc-bridge-1002"), "&echo")
	defer hangupAll(t, f)
	c := p.answer(20 * time.Second)
	pts := audioPayloads(c.remoteSDP)
	t.Logf("offer to the client: m=audio payloads %v (originator_codec %q)", pts, f.getvar(t, c.id, "originator_codec"))
	if strings.Contains(c.remoteSDP, "opus") || len(pts) == 0 || pts[0] != "0" {
		t.Errorf("the offer does not follow the PCMU A-leg (originator_codec):\n%s", c.remoteSDP)
	}
	select {
	case out := <-res:
		if !strings.HasPrefix(out, "+OK") {
			t.Fatalf("originate: %s", out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the SIP leg was not answered")
	}
	if !c.waitReceived(100, 15*time.Second) {
		t.Errorf("no audio back through the bridge: %s", c)
	}
	if rc := f.getvar(t, c.id, "read_codec"); rc != "PCMU" {
		t.Errorf("read_codec %q", rc)
	}
}

// ---- item 3: bypass_media ----

// testBypassMedia: bypass_media=true on the leg that bridges to a WebRTC
// user. Between two WebRTC clients the SDP passes between the legs
// (mod_verto's proxy mode): the media goes from client to client, none
// through FreeSWITCH, and no media-timeout fires. From a SIP leg with plain
// RTP, whose SDP no WebRTC client takes, the xrtc leg declines proxy mode:
// the media stays in FreeSWITCH and the call works.
func testBypassMedia(t *testing.T, f *fsEnv, x *ctrl.Server) {
	t.Run("webrtc-to-webrtc", func(t *testing.T) {
		a := dialPeer(t, x.WSURL(), "1001")
		b := dialPeer(t, x.WSURL(), "1002")
		ca := a.place("xrtc-bypass-1002")
		defer hangupAll(t, f)
		cb := b.answer(20 * time.Second)
		ca.awaitAnswer(20 * time.Second)
		if !ca.waitReceived(100, 15*time.Second) || !cb.waitReceived(100, 15*time.Second) {
			t.Fatalf("no media between the clients: %s; %s", ca, cb)
		}
		calls := f.mustCLI("xrtc calls")
		t.Logf("xrtc calls:\n%s", calls)
		if n, m := rtpIn(calls, ca.id), rtpIn(calls, cb.id); n != 0 || m != 0 {
			t.Errorf("FreeSWITCH counted %d and %d RTP packets: the media did not bypass it", n, m)
		}
		// Longer than media-timeout: the media watch knows there is
		// nothing to count.
		time.Sleep(mediaTimeout + 2*time.Second) // the call must outlive a media-timeout
		if m := a.tryExpect("verto.bye", ca.id, 0); m != nil {
			t.Fatalf("the bypassed call was hung up: %s", m.Params)
		}
		if n := ca.received.Load(); !ca.waitReceived(n+50, 5*time.Second) {
			t.Errorf("media stopped: %s", ca)
		}
		if cause := ca.bye(); cause != "NORMAL_CLEARING" {
			t.Errorf("bye cause %q", cause)
		}
		b.expect("verto.bye", cb.id, 10*time.Second)
	})
	t.Run("sip-to-webrtc", func(t *testing.T) {
		b := dialPeer(t, x.WSURL(), "1002")
		res := originate(f, sipLeg("absolute_codec_string=PCMU", "xrtc-bypass-1002"), "&echo")
		defer hangupAll(t, f)
		cb := b.answer(20 * time.Second)
		if out := <-res; !strings.HasPrefix(out, "+OK") {
			t.Fatalf("originate: %s", out)
		}
		if !cb.waitReceived(100, 15*time.Second) {
			t.Fatalf("no audio back (media must stay in FreeSWITCH): %s", cb)
		}
		if l := f.grepLog("has no WebRTC SDP"); len(l) == 0 {
			t.Errorf("no log line about declining proxy mode")
		}
	})
}

// ---- item 4: ext-rtp-ip is resolved when the configuration is read ----

// testExtRTPIP: ext-rtp-ip values that need a lookup are resolved at load
// and reload, never on a call's thread; a failure is logged, shown in
// `xrtc status`, and tried again at the next reload.
func testExtRTPIP(t *testing.T, f *fsEnv, x *ctrl.Server) {
	path := filepath.Join(f.dir, "conf", "autoload_configs", "xcc-rtc.conf.xml")
	good := xrtcConf(f.nats.ClientURL())
	defer func() {
		_ = os.WriteFile(path, []byte(good), 0o644)
		f.mustCLI("xrtc reload")
	}()
	withExt := func(v string) {
		t.Helper()
		extra := `<profile name="extip">
      <param name="rtp-ip" value="127.0.0.1"/>
      <param name="ext-rtp-ip" value="` + v + `"/>
      <param name="outbound-codec-string" value="PCMU"/>
      <param name="force-register-domain" value="` + testDomain + `"/>
    </profile>
  </profiles>`
		if err := os.WriteFile(path, []byte(strings.Replace(good, "</profiles>", extra, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A name that does not resolve: reported when the file is read.
	withExt("host:xrtc-test.invalid")
	if out := f.mustCLI("xrtc reload"); !strings.Contains(out, "+OK") {
		t.Fatalf("reload: %s", out)
	}
	if l := f.grepLog("ext-rtp-ip does not resolve"); len(l) == 0 {
		t.Errorf("the failed lookup was not logged at reload")
	}
	if st := f.mustCLI("xrtc status"); !strings.Contains(st, `profile extip: ext-rtp-ip "host:xrtc-test.invalid" does not resolve`) {
		t.Errorf("xrtc status does not show the failed lookup:\n%s", st)
	}

	// A STUN server that never answers: the reload waits for it (as
	// mod_verto's configuration does), the calls do not.
	withExt("stun:127.0.0.1:9")
	start := time.Now()
	f.mustCLI("xrtc reload")
	t.Logf("reload with an unanswered STUN lookup took %s", time.Since(start).Round(10*time.Millisecond))
	p := dialPeer(t, x.WSURL(), "1002")
	start = time.Now()
	res := originate(f, "xrtc/extip/1002@"+testDomain, "&park")
	defer hangupAll(t, f)
	inv := p.expect("verto.invite", "", 20*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the call waited %s for the invite: the lookup ran on the call's thread", took.Round(10*time.Millisecond))
	} else {
		t.Logf("invite %s after originate", took.Round(time.Millisecond))
	}
	_ = inv
	f.mustCLI("hupall NORMAL_CLEARING")
	<-res

	// Resolvable again: the next reload resolves it and the warning goes.
	withExt("host:localhost")
	f.mustCLI("xrtc reload")
	if st := f.mustCLI("xrtc status"); strings.Contains(st, "does not resolve") {
		t.Errorf("the warning stayed after a good reload:\n%s", st)
	}
	if l := f.grepLog("ext-rtp-ip resolved"); len(l) == 0 || !strings.Contains(l[len(l)-1], "127.0.0.1") {
		t.Errorf("host:localhost not resolved at reload: %q", l)
	}
}

// ---- item 5: negotiation at answer ----

// testLateNegotiation: the client offers PCMU then PCMA. What the dialplan
// sets before the answer decides the codec, as with mod_verto (the offer is
// negotiated at answer): absolute_codec_string=PCMA, and inherit_codec=true
// on a bridge to a SIP leg that answers with PCMA.
func testLateNegotiation(t *testing.T, f *fsEnv, x *ctrl.Server) {
	for _, dest := range []string{"xrtc-pcma-echo", "xrtc-inherit"} {
		t.Run(dest, func(t *testing.T) {
			p := dialPeerWith(t, x.WSURL(), "1001", nil, pcmu, pcma)
			p.sendCodec = pcma
			c := p.call(dest)
			defer hangupAll(t, f)
			pts := audioPayloads(c.remoteSDP)
			if len(pts) == 0 || pts[0] != "8" {
				t.Errorf("answer m=audio %v, want PCMA (8) first:\n%s", pts, c.remoteSDP)
			}
			if rc := f.getvar(t, c.id, "read_codec"); rc != "PCMA" {
				t.Errorf("read_codec %q, want PCMA", rc)
			}
			if !c.waitReceived(50, 15*time.Second) {
				t.Errorf("no audio back: %s", c)
			}
		})
	}
}

// ---- item 6: answer data before the answer ----

// testAnswerData: when a WebRTC user answers, CHANNEL_ANSWER already
// carries the callee: the answering user's directory variables, the socket
// (event_channel_cookie), the callee id (mod_verto sets the user, then
// marks the channel answered). A conference joined right after the answer
// (originate ... &conference) reaches the client (pvtData join on its
// socket).
func testAnswerData(t *testing.T, f *fsEnv, x *ctrl.Server) {
	ev := f.events(t, "CHANNEL_ANSWER")
	// The test peer is audio only: offer it audio only (the default
	// profile offers VP8 too).
	p := dialPeer(t, x.WSURL(), "1003")
	res := originate(f, "{absolute_codec_string=PCMU}xrtc/1003@"+testDomain, "&park")
	defer hangupAll(t, f)
	c := p.answer(20 * time.Second)
	<-res
	e := ev.next(t, 10*time.Second, func(e map[string]string) bool { return e["Unique-ID"] == c.id })
	for k, want := range map[string]string{
		"variable_verto_user":           "1003@" + testDomain,
		"variable_user_name":            "1003",
		"variable_toll_allow":           "local",
		"variable_accountcode":          "1003",
		"variable_event_channel_cookie": p.sessid,
		"variable_jsock_uuid_str":       p.sessid,
		"Caller-Callee-ID-Name":         "Peer 1003",
		"Caller-Callee-ID-Number":       "1003",
	} {
		if e[k] != want {
			t.Errorf("CHANNEL_ANSWER %s = %q, want %q", k, e[k], want)
		}
	}

	p4 := dialPeer(t, x.WSURL(), "1004")
	res = originate(f, "{absolute_codec_string=PCMU}xrtc/1004@"+testDomain, "&conference(3500@video-mcu-stereo)")
	c4 := p4.answer(20 * time.Second)
	<-res
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := p4.tryExpect("verto.event", "", time.Until(deadline))
		if m == nil {
			t.Fatalf("no pvtData join for the conference %s joined on answer", c4.id)
		}
		if strings.Contains(string(m.Params), "pvtData") && strings.Contains(string(m.Params), p4.sessid) {
			break
		}
	}
}

// ---- item 7: the client's address ----

// testClientAddress: the address XCtrl asserts in xrtc_user reaches the
// channel as mod_verto sets it from its WebSocket peer: verto_client_address
// ("ip:port") and the caller profile's network_addr. (The invite is sent
// straight to the node, as an XCtrl would send it.)
func testClientAddress(t *testing.T, f *fsEnv, nodeUUID string) {
	callID := newID()
	m, err := verto.NewRequest(verto.StringID("addr-1"), verto.MethodInvite, map[string]any{
		"sessid": newID(), "ctrl_uuid": "xrtc-test-ctrl", "node_uuid": nodeUUID,
		"sdp":          "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n",
		"dialogParams": map[string]any{"callID": callID, "destination_number": "xrtc-park"},
		"xrtc_user": map[string]any{"login": "1001@" + testDomain, "id": "1001", "domain": testDomain,
			"client_address": "198.51.100.7", "client_port": 4711},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Marshal()
	defer hangupAll(t, f)
	reply, err := f.nc.Request(verto.DefaultSubjects().Node(nodeUUID), b, 10*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), "CALL CREATED") {
		t.Fatalf("invite: %v %s", err, replyData(reply))
	}
	if got := f.getvar(t, callID, "verto_client_address"); got != "198.51.100.7:4711" {
		t.Errorf("verto_client_address %q", got)
	}
	if got := f.getvar(t, callID, "network_addr"); got != "198.51.100.7" {
		t.Errorf("network_addr %q", got)
	}
}

func replyData(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return string(m.Data)
}

// ---- item 8: FreeSWITCH's SDP as it is ----

// testSDPUnchanged: the client gets FreeSWITCH's SDP exactly as FreeSWITCH
// wrote it (no a=mid, no BUNDLE group added), as mod_verto sends it; the
// test users are the stock ones (no rtp_rewrite_timestamps), and the echo
// still reaches the (adapting) test peer.
func testSDPUnchanged(t *testing.T, f *fsEnv, x *ctrl.Server) {
	p := dialPeer(t, x.WSURL(), "1001")
	c := p.call("9196")
	defer hangupAll(t, f)
	local := f.getvar(t, c.id, "rtp_local_sdp_str")
	if strings.TrimSpace(c.remoteSDP) != strings.TrimSpace(local) {
		t.Errorf("the client's SDP is not FreeSWITCH's:\n--- client got ---\n%s\n--- rtp_local_sdp_str ---\n%s", c.remoteSDP, local)
	}
	if f.getvar(t, c.id, "rtp_rewrite_timestamps") != "" {
		t.Errorf("rtp_rewrite_timestamps is set on the channel")
	}
	if !c.waitReceived(100, 15*time.Second) {
		t.Errorf("no echo: %s", c)
	}
}

// testVideo: audio and VP8 video to the echo (9196) with the shared client
// (tools/client): FreeSWITCH's two-section SDP goes to it unchanged, and the
// video comes back (frames, key frames, the picture size).
func testVideo(t *testing.T, f *fsEnv, x *ctrl.Server) {
	c := dial(t, x, "1000")
	v, err := client.VideoFile(filepath.Join(f.root, "testdata", "video", "testsrc-160x120-vp8.ivf"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := c.Call(ctx, "9196", client.CallOptions{Video: v})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	defer hangupAll(t, f)
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	if err := call.WaitReceived(ctx, 50); err != nil {
		t.Errorf("no audio back: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := call.Report()
		if vr := r.Video; vr != nil && vr.KeyFramesReceived > 0 && vr.FramesReceived >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no video back: %s", r)
		}
		time.Sleep(200 * time.Millisecond) // polling the client's report
	}
	local := f.getvar(t, call.ID(), "rtp_local_sdp_str")
	if !strings.Contains(local, "m=video") || strings.Contains(local, "a=mid:") {
		t.Errorf("FreeSWITCH's SDP:\n%s", local)
	}
	if vc := f.getvar(t, call.ID(), "video_read_codec"); vc != "VP8" {
		t.Errorf("video_read_codec %q", vc)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report:\n%s", r)
	if vr := r.Video; vr == nil || vr.Codec != "VP8" || vr.Width != 160 || vr.Height != 120 || vr.Error != "" {
		t.Errorf("video report %+v", vr)
	}
}

// ---- configuration as forgiving as mod_verto's ----

// testConfigWarnings: a file mod_verto would load loads: a profile without
// rtp-ip and an unknown param are warnings, in FreeSWITCH's log at load and
// reload and in `xrtc status` next to the profile; that profile's calls
// fail ("no media ip"), the others work.
func testConfigWarnings(t *testing.T, f *fsEnv) {
	path := filepath.Join(f.dir, "conf", "autoload_configs", "xcc-rtc.conf.xml")
	good := xrtcConf(f.nats.ClientURL())
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	defer status.Unsubscribe()
	defer func() {
		_ = os.WriteFile(path, []byte(good), 0o644)
		f.mustCLI("xrtc reload")
	}()
	loose := strings.Replace(good, `<param name="rtp-ip" value="$${local_ip_v4}"/>`, `<param name="rpt-ip" value="$${local_ip_v4}"/>`, 1)
	if loose == good {
		t.Fatal("test config changed: no webrtc rtp-ip to remove")
	}
	if err := os.WriteFile(path, []byte(loose), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustCLI("unload mod_xrtc")
	if out, _ := f.cli("load mod_xrtc"); !strings.Contains(out, "+OK") {
		t.Fatalf("a configuration mod_verto would load was refused: %s\n%s", out, strings.Join(f.grepLog("mod_xrtc not loaded"), "\n"))
	}
	nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second)
	st := f.mustCLI("xrtc status")
	t.Logf("xrtc status:\n%s", st)
	for _, want := range []string{`warning: profile webrtc:`, `param "rpt-ip": ignored: unknown profile param; did you mean "rtp-ip"?`,
		`param "rtp-ip": missing: calls with this profile fail`} {
		if !strings.Contains(st, want) {
			t.Errorf("xrtc status lacks %q", want)
		}
	}
	if l := f.grepLog(`param "rtp-ip": warning: missing`); len(l) == 0 {
		t.Errorf("the warning is not in FreeSWITCH's log")
	}
	out := <-originate(f, "xrtc/webrtc/1002@"+testDomain, "&park")
	if !strings.Contains(out, "-ERR") || len(f.grepLog("has no media ip")) == 0 {
		t.Errorf("a call with the profile without rtp-ip: %s", out)
	}
	if out := f.mustCLI("xrtc reload"); !strings.Contains(out, "+OK") {
		t.Errorf("reload with warnings: %s", out)
	}
}

// ---- unload while invites come in ----

// testUnloadWithInvites: `unload mod_xrtc` write-locks the module while the
// core removes the endpoint, before the module's shutdown runs. Invites
// that arrive then are refused at once instead of holding the unload up
// for 10 s. A stream of invites runs through several unloads; each unload
// that goes through is quick, and every invite is answered.
func testUnloadWithInvites(t *testing.T, f *fsEnv, x *ctrl.Server, nodeUUID string) {
	// The invites reuse the UUID of a channel of another endpoint: each one
	// takes the module's lock briefly and fails ("Duplicate UUID"), so no
	// xrtc channel holds the unload off.
	dup := newID()
	res := originate(f, "{origination_uuid="+dup+"}loopback/xrtc-echo/default", "&park")
	defer hangupAll(t, f)
	if out := <-res; !strings.HasPrefix(out, "+OK") {
		t.Fatalf("loopback: %s", out)
	}
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	defer status.Unsubscribe()

	ctx, cancel := context.WithCancel(context.Background())
	var sent, answered, slow, refused atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				m, _ := verto.NewRequest(verto.StringID(fmt.Sprint(n)), verto.MethodInvite, map[string]any{
					"sessid": "unload-test", "ctrl_uuid": "xrtc-test-ctrl",
					"sdp":          "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n",
					"dialogParams": map[string]any{"callID": dup, "destination_number": "xrtc-park"},
				})
				b, _ := m.Marshal()
				start := time.Now()
				r, err := f.nc.Request(verto.DefaultSubjects().Node(nodeUUID), b, 15*time.Second)
				sent.Add(1)
				if err == nil && strings.Contains(string(r.Data), "SYSTEM_SHUTDOWN") {
					refused.Add(1) // came while the module was write-locked
				}
				if err == nil || err == nats.ErrNoResponders {
					answered.Add(1)
				}
				if time.Since(start) > 3*time.Second {
					slow.Add(1)
				}
				if err == nats.ErrNoResponders {
					time.Sleep(5 * time.Millisecond) // unloaded: pace the stream until the next load
				}
			}
		}()
	}
	unloads := 0
	for try := 0; try < 40 && unloads < 4; try++ {
		start := time.Now()
		out, _ := f.cli("unload mod_xrtc")
		took := time.Since(start)
		if !strings.Contains(out, "+OK") {
			continue // "Module in use": an invite held the module at that instant
		}
		unloads++
		t.Logf("unload %d with invites coming in took %s", unloads, took.Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("unload took %s: an invite held it up", took.Round(time.Millisecond))
		}
		f.mustCLI("load mod_xrtc")
		nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second)
	}
	cancel()
	wg.Wait()
	t.Logf("%d unloads, %d invites sent, %d answered (%d refused as SYSTEM_SHUTDOWN during an unload), %d slower than 3 s",
		unloads, sent.Load(), answered.Load(), refused.Load(), slow.Load())
	if unloads == 0 {
		t.Fatal("no unload went through")
	}
	if answered.Load() != sent.Load() || slow.Load() > 0 {
		t.Errorf("invites unanswered %d, slow %d", sent.Load()-answered.Load(), slow.Load())
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if err := x.WaitNodes(ctx2, func(ns []verto.Node) bool {
		for _, n := range ns {
			if n.UUID == nodeUUID {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("XCtrl lost the node: %v", err)
	}
}

// ---- an event-socket listener ----

// eslEvents reads FreeSWITCH events from the event socket.
type eslEvents struct {
	conn net.Conn
	ch   chan map[string]string
}

// events subscribes to the named events (plain format) for the test.
func (f *fsEnv) events(t *testing.T, names ...string) *eslEvents {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(f.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r := textproto.NewReader(bufio.NewReader(conn))
	read := func() (textproto.MIMEHeader, []byte) {
		h, err := r.ReadMIMEHeader()
		if err != nil {
			return nil, nil
		}
		var body []byte
		if n, _ := strconv.Atoi(h.Get("Content-Length")); n > 0 {
			body = make([]byte, n)
			if _, err := io.ReadFull(r.R, body); err != nil {
				return nil, nil
			}
		}
		return h, body
	}
	cmd := func(c string) {
		t.Helper()
		if _, err := conn.Write([]byte(c + "\n\n")); err != nil {
			t.Fatal(err)
		}
		if h, _ := read(); h == nil || !strings.HasPrefix(h.Get("Reply-Text"), "+OK") {
			t.Fatalf("event socket %q: %v", c, h)
		}
	}
	if h, _ := read(); h.Get("Content-Type") != "auth/request" {
		t.Fatalf("event socket: %v", h)
	}
	cmd("auth ClueCon")
	cmd("event plain " + strings.Join(names, " "))
	e := &eslEvents{conn: conn, ch: make(chan map[string]string, 256)}
	go func() {
		defer close(e.ch)
		for {
			h, body := read()
			if h == nil {
				return
			}
			if h.Get("Content-Type") != "text/event-plain" {
				continue
			}
			ev := map[string]string{}
			for _, line := range strings.Split(string(body), "\n") {
				k, v, ok := strings.Cut(line, ": ")
				if !ok {
					continue
				}
				if u, err := url.QueryUnescape(v); err == nil {
					v = u
				}
				ev[k] = v
			}
			select {
			case e.ch <- ev:
			default:
			}
		}
	}()
	return e
}

// next waits for an event that match accepts.
func (e *eslEvents) next(t *testing.T, d time.Duration, match func(map[string]string) bool) map[string]string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				t.Fatal("event socket closed")
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no matching event in %s", d)
		}
	}
}
