//go:build freeswitch

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/tools/client"
	"xccrtc/verto"
)

// The mod_verto features of issue 12 that ride on a call (prompts, media
// params, display with eavesdrop, re-negotiation, hold, replace, real-time
// text), each run against mod_xrtc (through XCtrl) and stock mod_verto in
// the same FreeSWITCH with the same client, comparing what the client
// receives: the same methods with the same fields. mod_verto leaves
// real-time text off unless its profile has enable-text: the test's copy of
// verto.conf.xml turns it on (as xcc-rtc.conf.xml does for xrtc); nothing
// else of the stock configuration changes.

// featureExtensions are the tests' own extensions (the stock dialplan is
// untouched).
const featureExtensions = `<include>
  <!-- written by the mod_xrtc feature tests -->
  <extension name="xrtc-media-params">
    <condition field="destination_number" expression="^9920$">
      <action application="answer"/>
      <action application="set" data="xrtc_test_media_params=${uuid_media_params(${uuid} width=320:640:1280 height=180:360:720 fps=15)}"/>
      <action application="echo"/>
    </condition>
  </extension>
  <extension name="xrtc-eavesdrop">
    <condition field="destination_number" expression="^eavesdrop-(.+)$">
      <action application="answer"/>
      <action application="eavesdrop" data="$1"/>
    </condition>
  </extension>
  <extension name="xrtc-loopback-echo">
    <condition field="destination_number" expression="^9922$">
      <action application="bridge" data="loopback/9196"/>
    </condition>
  </extension>
  <extension name="xrtc-transfer-target">
    <condition field="destination_number" expression="^9924$">
      <action application="answer"/>
      <action application="echo"/>
    </condition>
  </extension>
  <extension name="xrtc-early-only">
    <condition field="destination_number" expression="^9923$">
      <action application="pre_answer"/>
      <action application="playback" data="tone_stream://%(60000,0,440)"/>
    </condition>
  </extension>
</include>
`

// featuresConf is the tests' xcc-rtc.conf.xml with real-time text on, and
// a media-timeout that a re-negotiation's DTLS handshake on a loaded
// machine does not run into (these tests are not about it).
func featuresConf(natsURL string) string {
	c := strings.Replace(xrtcConf(natsURL), `<param name="force-register-domain"`,
		`<param name="enable-text" value="true"/>
      <param name="force-register-domain"`, 1)
	return strings.Replace(c, `name="media-timeout" value="4000"`, `name="media-timeout" value="20000"`, 1)
}

// enableVertoText turns mod_verto's enable-text on in the test's copy of
// verto.conf.xml.
func enableVertoText(t *testing.T, conf string) {
	path := filepath.Join(conf, "autoload_configs", "verto.conf.xml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(<profile name="[^"]*">)`).ReplaceAllString(string(b), "$1\n      <param name=\"enable-text\" value=\"true\"/>")
	if s == string(b) {
		t.Fatal("verto.conf.xml has no profile")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// evlog keeps a client's events; wait blocks until one matches.
type evlog struct {
	mu   sync.Mutex
	evs  []client.Event
	kick chan struct{}
}

func newEvlog() *evlog { return &evlog{kick: make(chan struct{}, 1)} }

func (l *evlog) add(e client.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// wait returns the first event (after skip earlier ones) that matches.
func (l *evlog) wait(t *testing.T, what string, d time.Duration, match func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		l.mu.Lock()
		evs := append([]client.Event(nil), l.evs...)
		l.mu.Unlock()
		for _, e := range evs {
			if match(e) {
				return e
			}
		}
		select {
		case <-l.kick:
		case <-deadline:
			t.Fatalf("no %s in %s", what, d)
			return client.Event{}
		}
	}
}

func (l *evlog) count(match func(client.Event) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if match(e) {
			n++
		}
	}
	return n
}

// verto matches a server message of that method on call id.
func vertoMsg(method, id string) func(client.Event) bool {
	return func(e client.Event) bool {
		if e.CallID != id {
			return false
		}
		switch method {
		case verto.MethodDisplay:
			return e.Kind == client.EventDisplay
		case verto.MethodInfo:
			return e.Kind == client.EventInfo
		case verto.MethodAttach:
			return e.Kind == client.EventAttached
		}
		return e.Kind == client.EventVerto && e.Text == method
	}
}

// side is one server the client talks to: mod_xrtc through XCtrl, or stock
// mod_verto.
type side struct {
	name  string
	xrtc  bool
	users []string
	dial  func(t *testing.T, user string, ev *evlog) *client.Client
}

func featureSides(x *ctrl.Server, pw string) []side {
	dialWith := func(url, domain, passwd string) func(t *testing.T, user string, ev *evlog) *client.Client {
		return func(t *testing.T, user string, ev *evlog) *client.Client {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, client.Options{
				URL: url, Login: user + "@" + domain, Passwd: passwd,
				Settings: client.LoopbackSettings(), Logger: testLogger(t, "client "+user),
				OnEvent: ev.add,
			})
			if err != nil {
				t.Fatalf("login %s@%s: %v", user, domain, err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
	}
	return []side{
		{name: "xrtc", xrtc: true, users: []string{"1000", "1001", "1002"}, dial: dialWith(x.WSURL(), testDomain, "1234")},
		{name: "mod_verto", users: []string{"1010", "1011", "1012"}, dial: dialWith(modVertoURL, modVertoDomain, pw)},
	}
}

// callUp places a call and waits for its answer and audio.
func callUp(t *testing.T, c *client.Client, dest string) *client.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call, err := c.Call(ctx, dest, client.CallOptions{Audio: client.Tone(1000), ProbeInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("call %s: %v", dest, err)
	}
	if err := call.WaitAnswered(ctx); err != nil {
		t.Fatalf("%s not answered: %v", dest, err)
	}
	if err := call.WaitReceived(ctx, 25); err != nil {
		t.Fatalf("no audio from %s: %v", dest, err)
	}
	return call
}

func hangup(t *testing.T, call *client.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := call.Hangup(ctx); err != nil && call.Err() == nil {
		t.Errorf("hangup %s: %v", call.ID(), err)
	}
}

// paramKeys are the params a client got, without the bus's own fields
// (node_uuid, sessid: XCtrl's routing, which verto.js ignores).
func paramKeys(raw json.RawMessage) []string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	var keys []string
	for k := range m {
		if k != verto.KeyNodeUUID && k != verto.KeySessid {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// sameFields fails unless the xrtc client got every field the mod_verto
// client got; fields only xrtc sends are logged as differences.
func sameFields(t *testing.T, what string, got map[string]json.RawMessage) {
	t.Helper()
	x, v := got["xrtc"], got["mod_verto"]
	if x == nil || v == nil {
		return // a side failed, and said so
	}
	xk, vk := paramKeys(x), paramKeys(v)
	has := map[string]bool{}
	for _, k := range xk {
		has[k] = true
	}
	for _, k := range vk {
		if !has[k] {
			t.Errorf("%s: mod_verto sends %q, xrtc does not\nxrtc:      %s\nmod_verto: %s", what, k, x, v)
		}
		delete(has, k)
	}
	if len(has) > 0 {
		var extra []string
		for k := range has {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		t.Logf("%s: xrtc sends more than mod_verto: %v", what, extra)
	}
	t.Logf("%s fields: %v", what, vk)
}

// onBothSides runs scenario against each side and compares the params of
// the message it returns.
func onBothSides(t *testing.T, f *fsEnv, sides []side, what string, scenario func(t *testing.T, s side) json.RawMessage) {
	got := map[string]json.RawMessage{}
	for _, s := range sides {
		t.Run(s.name, func(t *testing.T) { got[s.name] = scenario(t, s) })
	}
	sameFields(t, what, got)
	waitNoChannels(t, f)
}

func getField(raw json.RawMessage, k string) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	switch v := m[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// loadXrtc loads mod_xrtc and returns its node_uuid.
func loadXrtc(t *testing.T, f *fsEnv) string {
	t.Helper()
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	defer status.Unsubscribe()
	if out := f.mustCLI("load mod_xrtc"); !strings.Contains(out, "+OK") {
		t.Fatalf("load mod_xrtc: %s", out)
	}
	var node verto.Node
	if err := json.Unmarshal(nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second).Params, &node); err != nil {
		t.Fatal(err)
	}
	return node.UUID
}

// waitNode waits until x sees the node, or any node when node is "".
func waitNode(t *testing.T, x *ctrl.Server, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.WaitNodes(ctx, func(ns []verto.Node) bool {
		for _, n := range ns {
			if n.UUID == node || node == "" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("XCtrl does not see node %s: %v", node, err)
	}
}

// TestMediaControls runs the issue 12 call features against mod_xrtc and
// mod_verto in one FreeSWITCH.
func TestMediaControls(t *testing.T) {
	f := startFreeSWITCH(t, featuresConf, fsOption{editConf: enableVertoText})
	// The users may watch presence, as the stock directory's commented
	// example lets them (testReplace learns a call's uuid from it).
	x := startXCtrlWith(t, f, func(int) map[string]string {
		return map[string]string{"jsonrpc-allowed-event-channels": "presence"}
	}, nil)
	waitNode(t, x, loadXrtc(t, f))
	path := filepath.Join(f.dir, "conf", "dialplan", "default", "98_xrtc_features_test.xml")
	if err := os.WriteFile(path, []byte(featureExtensions), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustCLI("reloadxml")
	sides := featureSides(x, directoryPassword(t, f))

	t.Run("prompt", func(t *testing.T) { testPrompt(t, f, sides) })
	t.Run("media-params", func(t *testing.T) { testMediaParams(t, f, sides) })
	t.Run("display", func(t *testing.T) { testDisplay(t, f, sides) })
	t.Run("reneg", func(t *testing.T) { testReneg(t, f, sides) })
	t.Run("hold", func(t *testing.T) { testHoldFromSwitch(t, f, sides) })
	t.Run("replace", func(t *testing.T) { testReplace(t, f, sides) })
	t.Run("transfer", func(t *testing.T) { testTransfer(t, f, sides) })
	t.Run("text", func(t *testing.T) { testText(t, f, sides) })
}

// testPrompt: uuid_send_prompt (switch_ivr_send_prompt,
// SWITCH_MESSAGE_INDICATE_PROMPT) reaches the client as verto.prompt.
func testPrompt(t *testing.T, f *fsEnv, sides []side) {
	onBothSides(t, f, sides, "verto.prompt", func(t *testing.T, s side) json.RawMessage {
		ev := newEvlog()
		call := callUp(t, s.dial(t, s.users[0], ev), "9196")
		f.mustCLI("uuid_send_prompt " + call.ID() + " dtmf|Enter your PIN|^[0-9]{4}$")
		e := ev.wait(t, "verto.prompt", 10*time.Second, vertoMsg(verto.MethodPrompt, call.ID()))
		if getField(e.Params, "type") != "dtmf" || getField(e.Params, "text") != "Enter your PIN" || getField(e.Params, "regex") != "^[0-9]{4}$" {
			t.Errorf("verto.prompt %s", e.Params)
		}
		hangup(t, call)
		return e.Params
	})
}

// testMediaParams: uuid_media_params (in the dialplan: it needs the
// channel's session) reaches the client as verto.mediaParams.
func testMediaParams(t *testing.T, f *fsEnv, sides []side) {
	onBothSides(t, f, sides, "verto.mediaParams", func(t *testing.T, s side) json.RawMessage {
		ev := newEvlog()
		call := callUp(t, s.dial(t, s.users[0], ev), "9920")
		e := ev.wait(t, "verto.mediaParams", 10*time.Second, vertoMsg(verto.MethodMediaParams, call.ID()))
		var p struct {
			MediaParams struct {
				Video struct {
					Width     map[string]float64 `json:"width"`
					FrameRate float64            `json:"frameRate"`
				} `json:"video"`
			} `json:"mediaParams"`
		}
		if err := json.Unmarshal(e.Params, &p); err != nil || p.MediaParams.Video.Width["ideal"] != 640 || p.MediaParams.Video.FrameRate != 15 {
			t.Errorf("verto.mediaParams %s (%v)", e.Params, err)
		}
		hangup(t, call)
		return e.Params
	})
}

// testDisplay: uuid_display reaches the client as verto.display with every
// field mod_verto sends, and whoever eavesdrops on the call sees it too.
func testDisplay(t *testing.T, f *fsEnv, sides []side) {
	got, gotSpy := map[string]json.RawMessage{}, map[string]json.RawMessage{}
	for _, s := range sides {
		t.Run(s.name, func(t *testing.T) {
			ev, spyEv := newEvlog(), newEvlog()
			call := callUp(t, s.dial(t, s.users[0], ev), "9196")
			spy := callUp(t, s.dial(t, s.users[1], spyEv), "eavesdrop-"+call.ID())
			// the eavesdropper is shown whom it listens to
			spyEv.wait(t, "the eavesdropper's display", 10*time.Second, vertoMsg(verto.MethodDisplay, spy.ID()))
			f.mustCLI("uuid_display " + call.ID() + " Alice Example|5551234")
			isAlice := func(id string) func(client.Event) bool {
				return func(e client.Event) bool {
					return vertoMsg(verto.MethodDisplay, id)(e) && getField(e.Params, "display_name") == "Alice Example"
				}
			}
			e := ev.wait(t, "verto.display", 10*time.Second, isAlice(call.ID()))
			if getField(e.Params, "display_number") != "5551234" || getField(e.Params, "display_direction") != "inbound" ||
				getField(e.Params, "caller_id_number") != s.users[0] {
				t.Errorf("verto.display %s", e.Params)
			}
			got[s.name] = e.Params
			// the eavesdrop display update (switch_ivr_eavesdrop_update_display)
			gotSpy[s.name] = spyEv.wait(t, "the eavesdropper's display update", 10*time.Second, isAlice(spy.ID())).Params
			hangup(t, spy)
			hangup(t, call)
		})
	}
	sameFields(t, "verto.display", got)
	sameFields(t, "verto.display (eavesdropper)", gotSpy)
	waitNoChannels(t, f)
}

// testReneg: uuid_media_reneg re-offers the call's media with verto.attach;
// the client answers it on a new peer connection and the echo goes on.
func testReneg(t *testing.T, f *fsEnv, sides []side) {
	onBothSides(t, f, sides, "verto.attach (re-offer)", func(t *testing.T, s side) json.RawMessage {
		ev := newEvlog()
		call := callUp(t, s.dial(t, s.users[0], ev), "9196")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := call.WaitRTT(ctx, 1); err != nil {
			t.Fatalf("no echo: %v", err)
		}
		f.mustCLI("uuid_media_reneg " + call.ID())
		e := ev.wait(t, "verto.attach", 15*time.Second, vertoMsg(verto.MethodAttach, call.ID()))
		before := call.Report()
		if err := call.WaitReceived(ctx, before.RTPPacketsReceived+50); err != nil {
			t.Errorf("no audio after the re-offer: %v", err)
		}
		if err := call.WaitRTT(ctx, before.RTTSamples+1); err != nil {
			t.Errorf("no echo after the re-offer: %v", err)
		}
		hangup(t, call)
		if r := call.Report(); r.Reattached != 1 || r.HangupCause != "NORMAL_CLEARING" {
			t.Errorf("report %+v", r)
		}
		return e.Params
	})
}

// testHoldFromSwitch: the hold state the client is told is FreeSWITCH's
// (CF_PROTO_HOLD); uuid_hold sends the client nothing and does not set it;
// hold before the answer does nothing and answers "active".
func testHoldFromSwitch(t *testing.T, f *fsEnv, sides []side) {
	for _, s := range sides {
		t.Run(s.name, func(t *testing.T) {
			ev := newEvlog()
			c := s.dial(t, s.users[0], ev)
			call := callUp(t, c, "9196")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id := call.ID()
			if st, err := call.Hold(ctx); err != nil || st != "held" {
				t.Errorf("hold: %q %v", st, err)
			}
			if dump := f.mustCLI("uuid_dump " + id); !strings.Contains(dump, "Channel-Call-State: HELD") {
				t.Errorf("the channel is not held")
			}
			if s.xrtc {
				if calls := f.mustCLI("xrtc calls"); !strings.Contains(calls, "held") {
					t.Errorf("xrtc calls does not show the hold:\n%s", calls)
				}
			}
			if st, err := call.ToggleHold(ctx); err != nil || st != "active" {
				t.Errorf("toggleHold: %q %v", st, err)
			}
			// FreeSWITCH holds the call (uuid_hold: music to the far end,
			// SWITCH_MESSAGE_INDICATE_HOLD): no Verto message, and no
			// CF_PROTO_HOLD, so toggleHold holds.
			fromServer := func(e client.Event) bool { return e.CallID == id && e.Kind != client.EventHold }
			before := ev.count(fromServer)
			f.mustCLI("uuid_hold " + id)
			if st, err := call.ToggleHold(ctx); err != nil || st != "held" {
				t.Errorf("toggleHold after uuid_hold: %q %v", st, err)
			}
			if n := ev.count(fromServer); n != before {
				t.Errorf("uuid_hold sent the client %d messages", n-before)
			}
			f.mustCLI("uuid_hold off " + id)
			if st, err := call.Unhold(ctx); err != nil || st != "active" {
				t.Errorf("unhold: %q %v", st, err)
			}
			hangup(t, call)

			// hold before the answer: early media only
			early, err := c.Call(ctx, "9923", client.CallOptions{Audio: client.Tone(1000)})
			if err != nil {
				t.Fatalf("call 9923: %v", err)
			}
			ev.wait(t, "early media", 15*time.Second, func(e client.Event) bool { return e.Kind == client.EventEarly && e.CallID == early.ID() })
			if st, err := early.Hold(ctx); err != nil || st != "active" {
				t.Errorf("hold before the answer: %q %v", st, err)
			}
			hangup(t, early)
		})
	}
	waitNoChannels(t, f)
}

// testReplace: verto.modify replace (an attended transfer) with another
// call, on both: on mod_verto any client's call, on xrtc only a call of the
// same user (another user's gets "invalid transfer leg" and goes on); then
// with a session that is not a Verto call (the loopback leg bridged to the
// client's other call): xrtc takes it, mod_verto only its own calls
// ("transfer failed"). On xrtc, a session bridged to none of the client's
// calls is refused unless the profile has replace-any-session.
func testReplace(t *testing.T, f *fsEnv, sides []side) {
	partner := func(t *testing.T, uuid string) string {
		t.Helper()
		if p := f.getvar(t, uuid, "signal_bond"); p != "" {
			return p
		}
		return f.getvar(t, uuid, "bridge_uuid")
	}
	for _, s := range sides {
		t.Run(s.name, func(t *testing.T) {
			evA, evC := newEvlog(), newEvlog()
			a := callUp(t, s.dial(t, s.users[0], evA), "9922")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// C: another user on mod_verto; on xrtc, where another user's
			// call is refused, another socket of the same user.
			cUser := s.users[1]
			if s.xrtc {
				other := callUp(t, s.dial(t, s.users[1], newEvlog()), "9922")
				err := a.Replace(ctx, other.ID())
				if err == nil || !strings.Contains(err.Error(), "invalid transfer leg") {
					t.Fatalf("xrtc: replace with another user's call: %v, want invalid transfer leg", err)
				}
				if r := other.Report(); r.HangupCause != "" {
					t.Fatalf("the other user's call ended (%s) after a refused replace", r.HangupCause)
				}
				hangupAll(t, f)
				a = callUp(t, s.dial(t, s.users[0], evA), "9922")
				cUser = s.users[0]
			}
			cl := s.dial(t, cUser, evC)
			c := callUp(t, cl, "9922")
			// with the other call: the two loopback partners meet, C's leg
			// parks and ends (ATTENDED_TRANSFER)
			if err := a.Replace(ctx, c.ID()); err != nil {
				t.Fatalf("replace with the other call: %v", err)
			}
			_ = c.Wait(ctx)
			if r := c.Report(); r.HangupCause != "ATTENDED_TRANSFER" {
				t.Errorf("the replaced call ended with %q", r.HangupCause)
			}
			hangup(t, a)
			hangupAll(t, f)

			// with a loopback leg (any session)
			a = callUp(t, s.dial(t, s.users[0], evA), "9922")
			c = callUp(t, cl, "9922")
			aPartner, loop := partner(t, a.ID()), partner(t, c.ID())
			err := a.Replace(ctx, loop)
			if !s.xrtc {
				if err == nil || !strings.Contains(err.Error(), "transfer failed") {
					t.Errorf("mod_verto replaced a loopback leg: %v", err)
				} else {
					t.Logf("mod_verto, replace with a non-Verto session: %v (xrtc takes it)", err)
				}
				hangupAll(t, f)
				return
			}
			if err != nil {
				t.Fatalf("replace with a loopback leg: %v", err)
			}
			// C now talks to A's former partner (an echo)
			deadline := time.Now().Add(10 * time.Second)
			for partner(t, c.ID()) != aPartner && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if p := partner(t, c.ID()); p != aPartner {
				t.Errorf("C is bridged to %q, want A's former partner %q", p, aPartner)
			}
			before := c.Report()
			if err := c.WaitRTT(ctx, before.RTTSamples+2); err != nil {
				t.Errorf("no echo on C after the transfer: %v", err)
			}
			hangupAll(t, f)

			// A session bridged to none of the client's calls is refused,
			// and left alone: here a parked call of another user, whose
			// uuid the client learns from its presence (enable-presence is
			// on by default; the directory lets these users watch it).
			parked := func() string {
				t.Helper()
				out := strings.TrimSpace(f.mustCLI("originate loopback/9196 &park"))
				uuid := strings.TrimPrefix(out, "+OK ")
				if uuid == out {
					t.Fatalf("originate: %s", out)
				}
				return uuid
			}
			a = callUp(t, s.dial(t, s.users[0], evA), "9922")
			spyEv := newEvlog()
			victim := "presence.1019@" + testDomain
			if _, err := s.dial(t, s.users[0], spyEv).Subscribe(ctx, victim); err != nil {
				t.Fatal(err)
			}
			f.mustCLI("originate {presence_id=1019@" + testDomain + "}loopback/9196 &park")
			var seen struct {
				EventChannel string `json:"eventChannel"`
				Data         struct {
					ChannelUUID string `json:"channelUUID"`
				} `json:"data"`
			}
			spyEv.wait(t, "the parked call's presence", 10*time.Second, func(e client.Event) bool {
				return e.Kind == client.EventVerto && json.Unmarshal(e.Params, &seen) == nil && seen.EventChannel == victim &&
					seen.Data.ChannelUUID != ""
			})
			stranger := seen.Data.ChannelUUID // either leg of the loopback call
			if err := a.Replace(ctx, stranger); err == nil || !strings.Contains(err.Error(), "invalid transfer leg") {
				t.Errorf("replace with a session bridged to no call of the client: %v, want invalid transfer leg", err)
			}
			if out := f.mustCLI("uuid_exists " + stranger); !strings.Contains(out, "true") {
				t.Errorf("the session of a refused replace is gone: %s", out)
			}
			hangupAll(t, f)

			// replace-any-session on: any session.
			path := filepath.Join(f.dir, "conf", "autoload_configs", "xcc-rtc.conf.xml")
			good := featuresConf(f.nats.ClientURL())
			defer func() {
				_ = os.WriteFile(path, []byte(good), 0o644)
				f.mustCLI("xrtc reload")
			}()
			anySession := strings.Replace(good, `<param name="enable-text" value="true"/>`,
				`<param name="enable-text" value="true"/>
      <param name="replace-any-session" value="true"/>`, 1)
			if anySession == good {
				t.Fatal("no enable-text in the test's xcc-rtc.conf.xml")
			}
			if err := os.WriteFile(path, []byte(anySession), 0o644); err != nil {
				t.Fatal(err)
			}
			if out := f.mustCLI("xrtc reload"); !strings.Contains(out, "+OK") {
				t.Fatalf("reload: %s", out)
			}
			a = callUp(t, s.dial(t, s.users[0], evA), "9922")
			if err := a.Replace(ctx, parked()); err != nil {
				t.Errorf("replace-any-session on, replace with a parked loopback leg: %v", err)
			}
			hangupAll(t, f)
		})
	}
	waitNoChannels(t, f)
}

// testTransfer: verto.modify transfer sends the call's bridged partner
// (the loopback leg of 9922) to the destination (9924, an echo), and the
// client's own leg ends, on both; on a call with no partner (9196) both
// say "call is not bridged". Then destinations no dialplan author expects
// (8 KB and 60 KB long, the stock dialplan's eavesdrop prefix with 60 KB
// after it, control characters): XCtrl refuses them as it refuses such a
// destination_number; mod_verto hands them to the dialplan, which bears
// them. FreeSWITCH stays up.
func testTransfer(t *testing.T, f *fsEnv, sides []side) {
	transferred := func(t *testing.T) bool {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if out, _ := f.cli("show channels"); strings.Contains(out, ",9924,") {
				return true
			}
			time.Sleep(100 * time.Millisecond)
		}
		return false
	}
	causes := map[string]string{}
	for _, s := range sides {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl := s.dial(t, s.users[0], newEvlog())
			lone := callUp(t, cl, "9196")
			if err := lone.Transfer(ctx, "9924"); err == nil || !strings.Contains(err.Error(), "call is not bridged") {
				t.Errorf("transfer of a call with no partner: %v, want call is not bridged", err)
			}
			hangup(t, lone)
			a := callUp(t, cl, "9922")
			if err := a.Transfer(ctx, "9924"); err != nil {
				t.Fatalf("transfer to 9924: %v", err)
			}
			if !transferred(t) {
				t.Errorf("no channel at 9924 after the transfer:\n%s", f.mustCLI("show channels"))
			}
			if err := a.Wait(ctx); err != nil {
				t.Logf("the transferring call: %v", err)
			}
			causes[s.name] = a.Report().HangupCause
			hangupAll(t, f)
			huge := strings.Repeat("1234567890", 6<<10)
			for name, dest := range map[string]string{
				"8 KB":                       huge[:8<<10],
				"60 KB":                      huge,
				"eavesdrop prefix and 60 KB": "*0" + huge,
				"sip URI of 60 KB":           "sip:" + huge + "@127.0.0.1",
				"control characters":         "99\r\n24\x00\t${uuid}",
			} {
				a := callUp(t, cl, "9922")
				err := a.Transfer(ctx, dest)
				t.Logf("transfer to %s: %v", name, err)
				if s.xrtc && (err == nil || !strings.Contains(err.Error(), "Invalid params: destination")) {
					t.Errorf("transfer to %s: %v, want invalid destination", name, err)
				}
				mustBeUp(t, f, "a transfer to "+name)
				hangupAll(t, f)
				mustBeUp(t, f, "a transfer to "+name+", hung up")
			}
			// An API call in the destination: FreeSWITCH expands a
			// variable's value again, API calls included, and the
			// stock dialplan's global extension puts
			// ${destination_number} in the data of every call's hash
			// application.
			mark := filepath.Join(t.TempDir(), "transfer-ran-"+s.name)
			a = callUp(t, cl, "9922")
			err := a.Transfer(ctx, "${system(touch "+mark+")}")
			t.Logf("transfer to an API call: %v", err)
			time.Sleep(time.Second)
			_, statErr := os.Stat(mark)
			ran := statErr == nil
			t.Logf("%s: the API call in the transfer destination ran: %v", s.name, ran)
			if s.xrtc && ran {
				t.Errorf("a transfer to ${system(touch ...)} ran the command on the switch's host")
			}
			hangupAll(t, f)
		})
	}
	if len(causes) == len(sides) && causes[sides[0].name] != causes[sides[1].name] {
		t.Errorf("the transferring call ended with %v: not the same on both", causes)
	}
	waitNoChannels(t, f)
}

// testText: real-time text (enable-text): the client's verto.info txt
// reaches the call's text thread and 9196 returns it (the echo application
// echoes text too) as verto.info txt. (uuid_send_text cannot reach a WebRTC
// client, on mod_verto as here: FreeSWITCH clears CF_HAS_TEXT when the SDP
// has no text media, and switch_core_session_print then does nothing.)
func testText(t *testing.T, f *fsEnv, sides []side) {
	onBothSides(t, f, sides, "verto.info txt", func(t *testing.T, s side) json.RawMessage {
		ev := newEvlog()
		call := callUp(t, s.dial(t, s.users[0], ev), "9196")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		texts := func() string {
			var b strings.Builder
			ev.mu.Lock()
			defer ev.mu.Unlock()
			for _, e := range ev.evs {
				if e.CallID == call.ID() && e.Kind == client.EventInfo {
					b.WriteString(e.Text)
				}
			}
			return b.String()
		}
		for _, ch := range []string{"h", "e", "llo"} {
			if err := call.SendText(ctx, ch); err != nil {
				t.Fatalf("send text: %v", err)
			}
		}
		ev.wait(t, "the echoed text", 10*time.Second, func(client.Event) bool { return strings.Contains(texts(), "hello") })
		e := ev.wait(t, "verto.info txt", time.Second, func(e client.Event) bool {
			return vertoMsg(verto.MethodInfo, call.ID())(e) && strings.Contains(e.Text, "llo")
		})
		t.Logf("text received: %q", texts())
		hangup(t, call)
		return e.Params
	})
}
