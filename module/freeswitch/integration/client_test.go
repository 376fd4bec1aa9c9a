//go:build freeswitch

package integration

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"xccrtc/tools/client"
)

// The pion client (tools/client) against stock mod_verto, as a browser
// uses it: FreeSWITCH's own SDP (no a=mid, no BUNDLE, one transport per
// media section) and RTP (the echo returns the client's own packets, a
// transfer changes the stream), stock users and dialplan. Nothing of
// FreeSWITCH's users, codecs, SDP or RTP is changed for the client.

// modVertoURL is mod_verto's ws:// listener in the test configuration
// (freeswitch-for-tests.sh: verto.conf.xml on 127.0.0.1:8081).
const (
	modVertoURL    = "ws://127.0.0.1:8081"
	modVertoDomain = "127.0.0.1"
)

// TestClientAgainstModVerto runs the client's checks against one stock
// FreeSWITCH: echo with audio both ways and a transfer, video, conference,
// an originate to the client, and reconnects that keep the call.
func TestClientAgainstModVerto(t *testing.T) {
	f := startFreeSWITCH(t, xrtcConf)
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:8081", 5*time.Second); err != nil {
		t.Skipf("skipping: mod_verto does not listen on 127.0.0.1:8081 (the configuration of freeswitch-for-tests.sh): %v", err)
	} else {
		conn.Close()
	}
	pw := directoryPassword(t, f)
	addTestExtensions(t, f)
	t.Run("echo", func(t *testing.T) { testVertoEcho(t, f, pw) })
	t.Run("early-media", func(t *testing.T) { testVertoEarlyMedia(t, f, pw) })
	t.Run("reoffer", func(t *testing.T) { testVertoReoffer(t, f, pw) })
	t.Run("video", func(t *testing.T) { testVertoVideo(t, f, pw) })
	t.Run("conference", func(t *testing.T) { testVertoConference(t, f, pw) })
	t.Run("originate", func(t *testing.T) { testVertoOriginate(t, f, pw) })
	t.Run("reconnect", func(t *testing.T) { testVertoReconnect(t, f, pw, false) })
	t.Run("failover", func(t *testing.T) { testVertoReconnect(t, f, pw, true) })
}

// directoryPassword is the stock users' password: $${default_password}
// of the configuration this FreeSWITCH runs with.
func directoryPassword(t *testing.T, f *fsEnv) string {
	b, err := os.ReadFile(filepath.Join(f.dir, "conf", "vars.xml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`data="default_password=([^"]*)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no default_password in vars.xml")
	}
	return string(m[1])
}

func vertoDial(t *testing.T, user, pw string, mod func(*client.Options)) *client.Client {
	t.Helper()
	o := client.Options{
		URL: modVertoURL, Login: user + "@" + modVertoDomain, Passwd: pw,
		Settings: client.LoopbackSettings(),
		Logger:   testLogger(t, "client "+user),
	}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatalf("login %s to mod_verto: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// earlyMediaExtension is a test extension (stock dialplan untouched):
// early media (pre_answer: verto.media) for 1.5 s, then the answer and the
// echo.
const earlyMediaExtension = `<include>
  <extension name="xrtc_client_test_early_media">
    <condition field="destination_number" expression="^9901$">
      <action application="pre_answer"/>
      <action application="playback" data="tone_stream://%(1500,0,440)"/>
      <action application="answer"/>
      <action application="echo"/>
    </condition>
  </extension>
</include>
`

// addTestExtensions adds the client's test extensions to the default
// dialplan (which includes dialplan/default/*.xml) and reloads it.
func addTestExtensions(t *testing.T, f *fsEnv) {
	path := filepath.Join(f.dir, "conf", "dialplan", "default", "99_xrtc_client_test.xml")
	if err := os.WriteFile(path, []byte(earlyMediaExtension), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustCLI("reloadxml")
}

// vertoCall places a call and waits for its answer.
func vertoCall(t *testing.T, ctx context.Context, c *client.Client, dest string, o client.CallOptions) *client.Call {
	t.Helper()
	call, err := c.Call(ctx, dest, o)
	if err != nil {
		t.Fatalf("call %s: %v", dest, err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("%s not answered: %v", dest, err)
	}
	return call
}

// testVertoEcho: 9196 returns the client's packets (its own SSRC): audio
// comes back and the round trip is measured; a transfer to 9197
// (milliwatt) brings FreeSWITCH's own stream mid-call.
func testVertoEcho(t *testing.T, f *fsEnv, pw string) {
	c := vertoDial(t, "1000", pw, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	call := vertoCall(t, ctx, c, "9196", client.CallOptions{Audio: client.Tone(1000), ProbeInterval: 300 * time.Millisecond})
	if err := call.WaitReceived(ctx, 100); err != nil {
		t.Fatalf("no audio back: %v (%s)", err, call.Report())
	}
	if err := call.WaitRTT(ctx, 2); err != nil {
		t.Fatalf("the echo did not return the client's audio: %v (%s)", err, call.Report())
	}
	before := call.Report().RTPPacketsReceived
	f.mustCLI("uuid_transfer " + call.ID() + " 9197 XML default")
	if err := call.WaitReceived(ctx, before+100); err != nil {
		t.Errorf("no audio after the transfer: %v (%s)", err, call.Report())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.HangupCause != "NORMAL_CLEARING" || r.LossPct > 2 || r.MOS < 4 {
		t.Errorf("report %+v", r)
	}
	waitNoChannels(t, f)
}

// testVertoEarlyMedia: FreeSWITCH sends verto.media (its answer SDP) and
// early media before verto.answer: the client plays it before the answer.
func testVertoEarlyMedia(t *testing.T, f *fsEnv, pw string) {
	early := make(chan struct{}, 1)
	c := vertoDial(t, "1006", pw, func(o *client.Options) {
		o.OnEvent = func(e client.Event) {
			if e.Kind == client.EventEarly {
				select {
				case early <- struct{}{}:
				default:
				}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := c.Call(ctx, "9901", client.CallOptions{Audio: client.Tone(1000), ProbeInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("call 9901: %v", err)
	}
	select {
	case <-early:
	case <-ctx.Done():
		t.Fatal("no verto.media")
	}
	if err := call.WaitReceived(ctx, 25); err != nil {
		t.Fatalf("no early media: %v (%s)", err, call.Report())
	}
	if st := call.State(); st != client.StateEarly {
		t.Errorf("state %s while the early media plays, want early", st)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("not answered: %v", err)
	}
	if err := call.WaitRTT(ctx, 1); err != nil {
		t.Errorf("no echo after the answer: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.FirstRTPMS <= 0 || r.FirstRTPMS >= r.SetupMS || r.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("first RTP %.1f ms, answer %.1f ms: %+v", r.FirstRTPMS, r.SetupMS, r)
	}
	waitNoChannels(t, f)
}

// testVertoReoffer: uuid_media_reneg makes mod_verto re-offer the media
// of the live call (verto.attach on the same socket); the client answers
// it on a new peer connection and the echo goes on.
func testVertoReoffer(t *testing.T, f *fsEnv, pw string) {
	attached := make(chan struct{}, 1)
	c := vertoDial(t, "1007", pw, func(o *client.Options) {
		o.OnEvent = func(e client.Event) {
			if e.Kind == client.EventAttached {
				select {
				case attached <- struct{}{}:
				default:
				}
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := vertoCall(t, ctx, c, "9196", client.CallOptions{Audio: client.Tone(1000), ProbeInterval: 300 * time.Millisecond})
	if err := call.WaitRTT(ctx, 1); err != nil {
		t.Fatalf("no echo: %v", err)
	}
	f.mustCLI("uuid_media_reneg " + call.ID())
	select {
	case <-attached:
	case <-ctx.Done():
		t.Fatalf("no re-offer answered (%s)", call.Report())
	}
	before := call.Report()
	if err := call.WaitReceived(ctx, before.RTPPacketsReceived+50); err != nil {
		t.Errorf("no audio after the re-offer: %v", err)
	}
	if err := call.WaitRTT(ctx, before.RTTSamples+1); err != nil {
		t.Errorf("no echo after the re-offer: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.Reattached != 1 || r.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("report %+v", r)
	}
	waitNoChannels(t, f)
}

// testVertoVideo: VP8 from a file, echoed by 9196 on the video section's
// own transport; frames, key frames and the picture size come back.
func testVertoVideo(t *testing.T, f *fsEnv, pw string) {
	v, err := client.VideoFile(filepath.Join(f.root, "testdata", "video", "testsrc-160x120-vp8.ivf"))
	if err != nil {
		t.Fatal(err)
	}
	c := vertoDial(t, "1001", pw, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := vertoCall(t, ctx, c, "9196", client.CallOptions{Audio: client.Tone(800), Video: v})
	if err := call.WaitVideo(ctx, 30); err != nil {
		t.Fatalf("no video back: %v (%s)", err, call.Report())
	}
	if err := call.WaitReceived(ctx, 50); err != nil {
		t.Errorf("no audio with the video: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if vr := r.Video; vr == nil || vr.Codec != client.CodecVP8 || vr.Width != 160 || vr.Height != 120 || vr.KeyFramesReceived == 0 {
		t.Errorf("video %+v", r.Video)
	}
	waitNoChannels(t, f)
}

// testVertoConference: two clients in conference 3000 (stock dialplan:
// 3000-127.0.0.1@default); FreeSWITCH lists both, audio flows to both.
func testVertoConference(t *testing.T, f *fsEnv, pw string) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var calls []*client.Call
	for _, u := range []string{"1002", "1003"} {
		c := vertoDial(t, u, pw, nil)
		calls = append(calls, vertoCall(t, ctx, c, "3000", client.CallOptions{Audio: client.Tone(600)}))
	}
	for i, call := range calls {
		if err := call.WaitReceived(ctx, 100); err != nil {
			t.Errorf("member %d: no audio from the conference: %v", i, err)
		}
	}
	conf := "3000-" + modVertoDomain
	out := f.mustCLI("conference " + conf + " list count")
	if strings.TrimSpace(out) != "2" {
		t.Errorf("conference %s list count: %q, want 2", conf, out)
	}
	for _, call := range calls {
		if err := call.Hangup(ctx); err != nil {
			t.Errorf("hangup: %v", err)
		}
		if r := call.Report(); r.HangupCause != "NORMAL_CLEARING" {
			t.Errorf("report %s", r)
		}
	}
	waitNoChannels(t, f)
}

// testVertoOriginate: `originate user/1004 &echo` rings the client through
// mod_verto (FreeSWITCH's offer, its payload types); answered, the echo
// returns the client's audio; uuid_kill reaches it as verto.bye.
func testVertoOriginate(t *testing.T, f *fsEnv, pw string) {
	c := vertoDial(t, "1004", pw, nil)
	call, uuid := originateAnswered(t, f, c, "{origination_caller_id_number=9999}user/1004@"+modVertoDomain)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := call.WaitReceived(ctx, 100); err != nil {
		t.Fatalf("no audio from FreeSWITCH: %v (%s)", err, call.Report())
	}
	if err := call.WaitRTT(ctx, 1); err != nil {
		t.Errorf("the echo did not return the client's audio: %v (%s)", err, call.Report())
	}
	f.mustCLI("uuid_kill " + uuid)
	if err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	t.Logf("report: %s", r)
	if r.HangupCause != "NORMAL_CLEARING" || r.EndedBy != client.EndedByRemote || r.RTPPacketsSent == 0 {
		t.Errorf("report %+v", r)
	}
	waitNoChannels(t, f)
}

// testVertoReconnect: the client's WebSocket to mod_verto goes through a
// TCP relay that the test cuts (a network failure; with failover the relay
// dies and the client moves to a second one). The client reconnects with
// the same sessid, mod_verto re-attaches the call (verto.attach) and the
// echo's audio comes back on the same channel.
func testVertoReconnect(t *testing.T, f *fsEnv, pw string, failover bool) {
	first := newRelay(t, "127.0.0.1:8081")
	second := newRelay(t, "127.0.0.1:8081")
	var mu sync.Mutex
	var kinds []client.EventKind
	c := vertoDial(t, "1005", pw, func(o *client.Options) {
		o.URL = "ws://" + first.addr()
		o.URLs = []string{"ws://" + second.addr()}
		o.Reconnect = true
		o.ReconnectDelay = 200 * time.Millisecond
		o.OnEvent = func(e client.Event) {
			mu.Lock()
			kinds = append(kinds, e.Kind)
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	call := vertoCall(t, ctx, c, "9196", client.CallOptions{Audio: client.Tone(1000), ProbeInterval: 300 * time.Millisecond})
	if err := call.WaitReceived(ctx, 50); err != nil {
		t.Fatalf("no audio: %v", err)
	}
	before := call.Report()
	if failover {
		first.close()
	} else {
		first.cut()
	}
	if err := call.WaitReceived(ctx, before.RTPPacketsReceived+100); err != nil {
		t.Fatalf("no audio after the reconnect: %v (%s)", err, call.Report())
	}
	if err := call.WaitRTT(ctx, before.RTTSamples+1); err != nil {
		t.Errorf("no echo after the reconnect: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("hangup: %v", err)
	}
	r := call.Report()
	mu.Lock()
	t.Logf("report: %s; events %v", r, kinds)
	mu.Unlock()
	if r.Reconnects != 1 || r.Reattached != 1 || c.Reconnects() != 1 || r.HangupCause != "NORMAL_CLEARING" {
		t.Errorf("report %+v, client reconnects %d", r, c.Reconnects())
	}
	if want := "ws://" + second.addr(); failover && c.URL() != want {
		t.Errorf("on %s after the failover, want %s", c.URL(), want)
	}
	waitNoChannels(t, f)
}

// relay is a TCP relay to a fixed address, standing for the network
// between the client and mod_verto (or for an XCtrl instance).
type relay struct {
	t  *testing.T
	l  net.Listener
	mu sync.Mutex
	cs []net.Conn
	wg sync.WaitGroup
}

func newRelay(t *testing.T, to string) *relay {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{t: t, l: l}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				in.Close()
				continue
			}
			r.mu.Lock()
			r.cs = append(r.cs, in, out)
			r.mu.Unlock()
			r.wg.Add(2)
			go func() { defer r.wg.Done(); pipe(out, in) }()
			go func() { defer r.wg.Done(); pipe(in, out) }()
		}
	}()
	t.Cleanup(r.close)
	return r
}

// pipe copies until either side closes (a cut ends both).
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (r *relay) addr() string { return r.l.Addr().String() }

// cut drops the connections under way; new ones are relayed.
func (r *relay) cut() {
	r.mu.Lock()
	cs := r.cs
	r.cs = nil
	r.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}

// close stops the relay: no connection gets through any more.
func (r *relay) close() {
	r.l.Close()
	r.cut()
	r.wg.Wait()
}
