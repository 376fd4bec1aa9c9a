//go:build freeswitch

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/tools/client"
	"xccrtc/verto"
)

// The mod_verto services mod_xrtc offers beside its calls (issue 12: chat,
// contacts, presence and FSevent channels, jsapi/fsapi), against a real
// FreeSWITCH with its stock configuration, and the same scenario against
// the stock mod_verto of that FreeSWITCH where it has one, comparing what
// the client receives.

// servicesConf is the tests' xcc-rtc.conf.xml with enable-fs-events set.
func servicesConf(fsEvents bool) func(string) string {
	return func(natsURL string) string {
		v := "false"
		if fsEvents {
			v = "true"
		}
		return strings.Replace(xrtcConf(natsURL), `<param name="debug" value="0"/>`,
			`<param name="debug" value="0"/>
    <param name="enable-presence" value="true"/>
    <param name="enable-fs-events" value="`+v+`"/>`, 1)
	}
}

// servicesParams: every user may use jsapi, fsapi and the presence and
// FSevent channels; 1000 may run status, echo and bgapi (fsapi) and the
// JSON API's status and fsapi (jsapi); the others no command.
func servicesParams(user int) map[string]string {
	p := map[string]string{"jsonrpc-allowed-methods": "verto,jsapi,fsapi", "jsonrpc-allowed-event-channels": "presence,FSevent"}
	if user == 1000 {
		p["jsonrpc-allowed-fsapi"] = "status,echo,bgapi"
		p["jsonrpc-allowed-jsapi"] = "status,fsapi"
	}
	return p
}

// TestSwitchServices runs the services' checks against one FreeSWITCH, two
// XCtrl instances, and mod_verto beside them.
func TestSwitchServices(t *testing.T) {
	f := startFreeSWITCH(t, servicesConf(false))
	f.mustCLI("load mod_xrtc")
	enable := func(c *ctrl.Config) { c.EnableFSAPI, c.EnableJSAPI = true, true }
	x1 := startXCtrlWith(t, f, servicesParams, enable)
	x2 := startXCtrlWith(t, f, servicesParams, enable)
	waitNode(t, x1, "")
	waitNode(t, x2, "")
	s := &svc{t: t, f: f, x1: x1, x2: x2}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:8081", 5*time.Second); err == nil {
		conn.Close()
		s.vertoPW = directoryPassword(t, f)
	} else {
		t.Logf("mod_verto does not listen on 127.0.0.1:8081: no comparison with it (%v)", err)
	}
	t.Run("chat-to-clients", s.testChatToClients)
	t.Run("chat-from-clients", s.testChatFromClients)
	t.Run("contact", s.testContact)
	t.Run("contact-legs", s.testContactLegs)
	t.Run("presence", s.testPresence)
	t.Run("fs-events", s.testFSEvents)
	t.Run("api", s.testAPI)
}

type svc struct {
	t       *testing.T
	f       *fsEnv
	x1, x2  *ctrl.Server
	vertoPW string // "" without mod_verto
}

// watched is a client whose server-sent events a test waits on.
type watched struct {
	*client.Client
	ev chan client.Event
}

func watch(t *testing.T, url, login, passwd string) *watched {
	t.Helper()
	w := &watched{ev: make(chan client.Event, 256)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{
		URL: url, Login: login, Passwd: passwd, Settings: client.LoopbackSettings(), Logger: testLogger(t, "client "+login),
		OnEvent: func(ev client.Event) {
			switch ev.Kind {
			case client.EventInfo, client.EventVerto, client.EventHangup, client.EventInvite:
				select {
				case w.ev <- ev:
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatalf("login %s at %s: %v", login, url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w.Client = c
	return w
}

// xrtcClient logs user in on x; vertoClient on mod_verto.
func (s *svc) xrtcClient(t *testing.T, x *ctrl.Server, user string) *watched {
	return watch(t, x.WSURL(), user+"@"+testDomain, "1234")
}

func (s *svc) vertoClient(t *testing.T, user string) *watched {
	return watch(t, modVertoURL, user+"@"+modVertoDomain, s.vertoPW)
}

// next waits for an event of kind that match accepts.
func (w *watched) next(t *testing.T, kind client.EventKind, d time.Duration, match func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-w.ev:
			if ev.Kind == kind && (match == nil || match(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("%s: no %s in %s", w.Sessid(), kind, d)
		}
	}
}

// none fails if an event of kind that match accepts comes within d (a
// bounded wait: what must not happen has no event to wait on).
func (w *watched) none(t *testing.T, kind client.EventKind, d time.Duration, match func(client.Event) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-w.ev:
			if ev.Kind == kind && (match == nil || match(ev)) {
				t.Fatalf("%s: unexpected %s: %s", w.Sessid(), kind, ev.Params)
			}
		case <-deadline:
			return
		}
	}
}

// chatMsg is verto.info's msg of an event.
func chatMsg(t *testing.T, ev client.Event) map[string]any {
	t.Helper()
	var p struct {
		Msg map[string]any `json:"msg"`
	}
	if err := json.Unmarshal(ev.Params, &p); err != nil || p.Msg == nil {
		t.Fatalf("verto.info without msg: %s", ev.Params)
	}
	return p.Msg
}

// keys are an object's sorted keys, less those named.
func keys(m map[string]any, less ...string) []string {
	var out []string
	for k := range m {
		if !slices.Contains(less, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func paramsOf(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("params %s: %v", raw, err)
	}
	return m
}

// sameKeys reports (and logs) the difference between what mod_verto and
// mod_xrtc sent; the bus's own fields (sessid, node_uuid) are the only
// ones XCtrl adds.
func sameKeys(t *testing.T, what string, verto, xrtc map[string]any) {
	t.Helper()
	vk, xk := keys(verto, "sessid"), keys(xrtc, "sessid", "node_uuid")
	if !slices.Equal(vk, xk) {
		t.Errorf("%s: mod_verto sends %v, mod_xrtc %v", what, vk, xk)
		return
	}
	t.Logf("%s: the same fields from both: %v", what, vk)
}

// ---- item 1: chat from FreeSWITCH to clients ----

// testChatToClients: `chat xrtc|from|to|body`, the chat plan's reply and a
// SIP phone's MESSAGE reach every socket of the user, on either XCtrl, as
// verto.info with mod_verto's fields.
func (s *svc) testChatToClients(t *testing.T) {
	f := s.f
	b1 := s.xrtcClient(t, s.x1, "1001")
	b2 := s.xrtcClient(t, s.x2, "1001")
	out := f.mustCLI("chat xrtc|operator@" + testDomain + "|1001@" + testDomain + "|hello from fs_cli")
	if !strings.Contains(out, "Sent") {
		t.Fatalf("chat: %s", out)
	}
	var got map[string]any
	for _, b := range []*watched{b1, b2} {
		ev := b.next(t, client.EventInfo, 10*time.Second, nil)
		m := chatMsg(t, ev)
		if m["from"] != "operator@"+testDomain || m["to"] != "1001@"+testDomain || m["body"] != "hello from fs_cli" {
			t.Errorf("%s: msg %v", b.Sessid(), m)
		}
		got = paramsOf(t, ev.Params)
	}
	// The chat plan (mod_sms, installed, left out of the stock
	// modules.conf: loaded here as an operator would): the stock default
	// context replies to the sender ("Hello, you said: ..."), through the
	// sender's chat protocol.
	if out, _ := f.cli("load mod_sms"); !strings.Contains(out, "+OK") && !strings.Contains(out, "already loaded") {
		t.Fatalf("load mod_sms: %s", out)
	}
	a := s.xrtcClient(t, s.x1, "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.SendMessage(ctx, "1001@"+testDomain, "ping"); err != nil {
		t.Fatal(err)
	}
	reply := chatMsg(t, a.next(t, client.EventInfo, 10*time.Second, nil))
	if reply["to"] != "1000@"+testDomain || !strings.HasPrefix(reply["body"].(string), "Hello, you said:") {
		t.Errorf("chat plan reply %v", reply)
	}
	// A SIP phone (stock user 1002) messages xrtc+1001 (sofia's proto+user).
	if st := sipMessage(t, "1002", "1234", "xrtc+1001+"+testDomain, "from a SIP phone"); !strings.Contains(st, " 202 ") && !strings.Contains(st, " 200 ") {
		t.Fatalf("SIP MESSAGE: %s", st)
	}
	var sipMsg map[string]any
	for _, b := range []*watched{b1, b2} {
		sipMsg = chatMsg(t, b.next(t, client.EventInfo, 10*time.Second, nil))
		if sipMsg["from"] != "1002@127.0.0.1" || sipMsg["to"] != "1001@"+testDomain || sipMsg["body"] != "from a SIP phone" ||
			sipMsg["from_sip_ip"] != "127.0.0.1" {
			t.Errorf("%s: SIP msg %v", b.Sessid(), sipMsg)
		}
	}

	if s.vertoPW == "" {
		return
	}
	v := s.vertoClient(t, "1001")
	f.mustCLI("chat verto|operator@" + modVertoDomain + "|1001@" + modVertoDomain + "|hello from fs_cli")
	ev := v.next(t, client.EventInfo, 10*time.Second, nil)
	sameKeys(t, "chat API: params", paramsOf(t, ev.Params), got)
	sameKeys(t, "chat API: msg", chatMsg(t, ev), got["msg"].(map[string]any))
	va := s.vertoClient(t, "1000")
	if err := va.SendMessage(ctx, "1001@"+modVertoDomain, "ping"); err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "chat plan reply: msg", chatMsg(t, va.next(t, client.EventInfo, 10*time.Second, nil)), reply)
	if st := sipMessage(t, "1002", "1234", "verto+1001+"+modVertoDomain, "from a SIP phone"); !strings.Contains(st, " 202 ") && !strings.Contains(st, " 200 ") {
		t.Fatalf("SIP MESSAGE to mod_verto: %s", st)
	}
	sameKeys(t, "SIP MESSAGE: msg", chatMsg(t, v.next(t, client.EventInfo, 10*time.Second, nil)), sipMsg)
}

// testChatFromClients: a client's message is a MESSAGE event with mod_verto's
// headers (the msg's from_* and to_*, the user's context for the chat
// plan), with our chat protocol as its proto.
func (s *svc) testChatFromClients(t *testing.T) {
	es := s.f.events(t, "MESSAGE")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fields := map[string]string{"from_display": "Alice", "to_group": "sales", "other": "not a header"}
	a := s.xrtcClient(t, s.x1, "1000")
	if err := a.SendChat(ctx, "1003@"+testDomain, "with fields", fields); err != nil {
		t.Fatal(err)
	}
	message := func(from, to string) map[string]string {
		t.Helper()
		return es.next(t, 10*time.Second, func(ev map[string]string) bool { return ev["from"] == from && ev["to"] == to })
	}
	ev := message("1000@"+testDomain, "1003@"+testDomain)
	for k, want := range map[string]string{"proto": "xrtc", "from_user": "1000", "from_host": testDomain, "from_full": "1000",
		"context": "default", "from_display": "Alice", "to_group": "sales", "verto_profile": "default", "verto_jsock_uuid": a.Sessid(),
		"type": "text/plain", "other": ""} {
		if ev[k] != want {
			t.Errorf("MESSAGE %s = %q, want %q", k, ev[k], want)
		}
	}
	if s.vertoPW == "" {
		return
	}
	v := s.vertoClient(t, "1000")
	if err := v.SendChat(ctx, "1003@"+modVertoDomain, "with fields", fields); err != nil {
		t.Fatal(err)
	}
	vev := message("1000@"+modVertoDomain, "1003@"+modVertoDomain)
	for _, k := range []string{"proto", "from", "from_user", "from_host", "to", "type", "from_full", "verto_profile", "verto_jsock_uuid",
		"context", "from_display", "to_group", "other"} {
		if (vev[k] == "") != (ev[k] == "") {
			t.Errorf("MESSAGE header %s: mod_verto %q, mod_xrtc %q", k, vev[k], ev[k])
		}
	}
	if vev["context"] != ev["context"] || vev["proto"] != "verto" {
		t.Errorf("context: mod_verto %q, mod_xrtc %q; mod_verto's proto %q", vev["context"], ev["context"], vev["proto"])
	}
}

// ---- item 2: contacts, one leg per device ----

// legs splits a contact dial string.
func legs(s string) []string {
	out := strings.Split(strings.TrimSpace(s), ",")
	sort.Strings(out)
	return out
}

// testContact: xrtc_contact lists one per-socket dial string per socket of
// the user, on either XCtrl; error/user_not_registered without one; as
// mod_verto's verto_contact. The invite of a per-socket call carries what
// mod_verto's does.
func (s *svc) testContact(t *testing.T) {
	f := s.f
	p1 := s.xrtcClient(t, s.x1, "1002")
	p2 := s.xrtcClient(t, s.x2, "1002")
	want := legs("xrtc/u:" + p1.Sessid() + ",xrtc/u:" + p2.Sessid())
	if got := legs(f.mustCLI("xrtc_contact 1002@" + testDomain)); !slices.Equal(got, want) {
		t.Fatalf("xrtc_contact: %v, want %v", got, want)
	}
	if got := legs(f.mustCLI("xrtc_contact webrtc/1002@" + testDomain)); len(got) != 2 || !strings.HasPrefix(got[0], "xrtc/webrtc/u:") {
		t.Errorf("xrtc_contact with a profile: %v", got)
	}
	if got := strings.TrimSpace(f.mustCLI("xrtc_contact 1003@" + testDomain)); got != "error/user_not_registered" {
		t.Errorf("nobody logged in: %q", got)
	}
	if got := strings.TrimSpace(f.mustCLI("xrtc_contact nosuch/1003@" + testDomain)); got != "error/channel_unacceptable" {
		t.Errorf("unknown profile: %q", got)
	}
	// A per-socket call rings that socket only.
	res := originate(f, "{origination_caller_id_number=9999}xrtc/u:"+p2.Sessid(), "&echo")
	inv := p2.next(t, client.EventInvite, 15*time.Second, nil)
	call := answerIncoming(t, p2.Client)
	if out := <-res; !strings.HasPrefix(out, "+OK") {
		t.Fatalf("originate: %s", out)
	}
	p1.none(t, client.EventInvite, 500*time.Millisecond, nil)
	_ = call.Hangup(context.Background())
	waitNoChannels(t, f)

	if s.vertoPW == "" {
		return
	}
	v1 := s.vertoClient(t, "1002")
	v2 := s.vertoClient(t, "1002")
	vwant := legs("verto.rtc/u:" + v1.Sessid() + ",verto.rtc/u:" + v2.Sessid())
	if got := legs(f.mustCLI("verto_contact 1002@" + modVertoDomain)); !slices.Equal(got, vwant) {
		t.Errorf("verto_contact: %v, want %v", got, vwant)
	}
	if got := strings.TrimSpace(f.mustCLI("verto_contact 1003@" + modVertoDomain)); got != "error/user_not_registered" {
		t.Errorf("verto_contact of nobody: %q", got)
	}
	res = originate(f, "{origination_caller_id_number=9999}verto.rtc/u:"+v2.Sessid(), "&echo")
	vinv := v2.next(t, client.EventInvite, 15*time.Second, nil)
	vcall := answerIncoming(t, v2.Client)
	if out := <-res; !strings.HasPrefix(out, "+OK") {
		t.Fatalf("originate to mod_verto: %s", out)
	}
	sameKeys(t, "per-socket verto.invite", paramsOf(t, vinv.Params), paramsOf(t, inv.Params))
	_ = vcall.Hangup(context.Background())
	waitNoChannels(t, f)
}

// testContactLegs: the contact string as a directory's dial-string uses it
// (beside sofia_contact): every device rings as its own leg with its own
// channel and CDR; the first to answer wins and the others end LOSE_RACE;
// leg_timeout applies per device; a sequential list with
// originate_continue_on_timeout moves on; group_confirm asks each device.
func (s *svc) testContactLegs(t *testing.T) {
	f := s.f
	es := f.events(t, "CHANNEL_HANGUP_COMPLETE")
	p1 := s.xrtcClient(t, s.x1, "1002")
	p2 := s.xrtcClient(t, s.x2, "1002")
	contact := "${xrtc_contact(1002@" + testDomain + ")}"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	incoming := func(p *watched) *client.Call {
		t.Helper()
		select {
		case c := <-p.Incoming():
			return c
		case <-ctx.Done():
			t.Fatalf("%s did not ring", p.Sessid())
		}
		return nil
	}
	ended := func(c *client.Call) string {
		t.Helper()
		if err := c.Wait(ctx); err != nil && c.Report().HangupCause == "" {
			t.Fatalf("call %s: %v", c.ID(), err)
		}
		return c.Report().HangupCause
	}
	// answer answers c and returns the UUID the originate (res) reports.
	answer := func(c *client.Call, res <-chan string, what string) string {
		t.Helper()
		if err := c.Answer(ctx, client.CallOptions{Audio: client.Tone(700)}); err != nil {
			t.Fatal(err)
		}
		out := <-res
		if !strings.HasPrefix(out, "+OK") {
			t.Fatalf("%s: originate: %s", what, out)
		}
		return strings.TrimSpace(strings.TrimPrefix(out, "+OK"))
	}
	// kill ends the call and waits until FreeSWITCH has no channel left.
	kill := func(uuid string, c *client.Call) {
		t.Helper()
		f.mustCLI("uuid_kill " + uuid)
		ended(c)
		waitNoChannels(t, f)
	}

	// Simultaneous, as user/ dials: SIP contacts (none) and every device.
	// (`expand` makes the originate API expand ${...} as the directory's
	// dial-string and a dialplan's bridge are.)
	res := originate(f, "{origination_caller_id_number=9999,ignore_early_media=true}${sofia_contact(*/1002@127.0.0.1)},"+contact, "&echo", "expand")
	c1, c2 := incoming(p1), incoming(p2)
	if c1.ID() == c2.ID() {
		t.Fatalf("one leg for two devices: %s", c1.ID())
	}
	uuid := answer(c2, res, "simultaneous")
	if cause := ended(c1); cause != "LOSE_RACE" {
		t.Errorf("the other device ended %s, want LOSE_RACE", cause)
	}
	kill(uuid, c2)
	cdrs := map[string]string{}
	for len(cdrs) < 2 {
		ev := es.next(t, 10*time.Second, func(ev map[string]string) bool { return strings.HasPrefix(ev["Channel-Name"], "xrtc/u:") })
		cdrs[ev["Unique-ID"]] = ev["Channel-Name"] + " " + ev["Hangup-Cause"]
	}
	if cdrs[c1.ID()] != "xrtc/u:"+p1.Sessid()+" LOSE_RACE" || cdrs[c2.ID()] != "xrtc/u:"+p2.Sessid()+" NORMAL_CLEARING" {
		t.Errorf("one CDR per device: %v", cdrs)
	}

	// leg_timeout per device: the first device gives up after 2 s, the
	// second rings on and answers.
	res = originate(f, "{ignore_early_media=true}[leg_timeout=2]xrtc/u:"+p1.Sessid()+",[leg_timeout=30]xrtc/u:"+p2.Sessid(), "&echo")
	c1, c2 = incoming(p1), incoming(p2)
	start := time.Now()
	if cause := ended(c1); cause != "NO_ANSWER" {
		t.Errorf("leg_timeout: the first device ended %s", cause)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("leg_timeout=2 took %v", d)
	}
	kill(answer(c2, res, "leg_timeout"), c2)

	// One after the other: the first times out, the second answers.
	res = originate(f, "{ignore_early_media=true,originate_continue_on_timeout=true}[leg_timeout=2]xrtc/u:"+p1.Sessid()+"|xrtc/u:"+p2.Sessid(), "&echo")
	c1 = incoming(p1)
	if cause := ended(c1); cause != "NO_ANSWER" {
		t.Errorf("sequential: the first device ended %s", cause)
	}
	c2 = incoming(p2)
	kill(answer(c2, res, "sequential"), c2)

	// group_confirm: both answer; the device that presses 1 gets the call.
	res = originate(f, "{ignore_early_media=true,group_confirm_key=1,group_confirm_file=silence_stream://20000}"+contact, "&echo", "expand")
	c1, c2 = incoming(p1), incoming(p2)
	for _, c := range []*client.Call{c1, c2} {
		if err := c.Answer(ctx, client.CallOptions{Audio: client.Tone(700)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c2.WaitReceived(ctx, 5); err != nil { // media up before the key
		t.Fatal(err)
	}
	if err := c2.SendDTMF(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	out := <-res
	if !strings.HasPrefix(out, "+OK") {
		t.Fatalf("group_confirm originate: %s", out)
	}
	if cause := ended(c1); cause != "LOSE_RACE" {
		t.Errorf("group_confirm: the unconfirmed device ended %s", cause)
	}
	if uuid := strings.TrimSpace(strings.TrimPrefix(out, "+OK")); uuid != c2.ID() {
		t.Errorf("group_confirm: the call is %s, the confirming device's %s", uuid, c2.ID())
	}
	kill(c2.ID(), c2)
}

// ---- item 8: presence and FSevent channels ----

// presenceOf returns a presence event's channel and data.
func presenceOf(t *testing.T, ev client.Event) (string, map[string]any) {
	t.Helper()
	p := paramsOf(t, ev.Params)
	data, _ := p["data"].(map[string]any)
	ch, _ := p["eventChannel"].(string)
	return ch, data
}

// presenceState waits for the presence event of channel with state.
func presenceState(t *testing.T, w *watched, channel, state string) map[string]any {
	t.Helper()
	ev := w.next(t, client.EventVerto, 15*time.Second, func(ev client.Event) bool {
		ch, data := presenceOf(t, ev)
		return ch == channel && data["channelCallState"] == state
	})
	return paramsOf(t, ev.Params)
}

// testPresence: a call's presence reaches the socket that subscribed it
// on the other XCtrl; a late subscription gets the current state
// (presence_ping); each state once (mod_verto's own presence, loaded
// beside, is not passed on); nothing once enable-presence is off.
func (s *svc) testPresence(t *testing.T) {
	f := s.f
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ch := "presence.1000@" + testDomain
	w := s.xrtcClient(t, s.x2, "1001")
	if _, err := w.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	caller := s.xrtcClient(t, s.x1, "1000")
	call := vertoCall(t, ctx, caller.Client, "9196", client.CallOptions{Audio: client.Tone(500)})
	active := presenceState(t, w, ch, "ACTIVE")
	if d := active["data"].(map[string]any); d["channelUUID"] != call.ID() || d["channelPresenceID"] != "1000@"+testDomain || d["callerIDNumber"] != "1000" {
		t.Errorf("presence %v", active)
	}
	late := s.xrtcClient(t, s.x1, "1003")
	if _, err := late.Subscribe(ctx, "presence"); err != nil {
		t.Fatal(err)
	}
	presenceState(t, late, ch, "ACTIVE")
	_ = call.Hangup(ctx)
	presenceState(t, w, ch, "HANGUP")
	waitNoChannels(t, f)
	// No state twice (mod_verto makes its own presence of the same call).
	w.none(t, client.EventVerto, 500*time.Millisecond, func(ev client.Event) bool {
		c, data := presenceOf(t, ev)
		return c == ch && (data["channelCallState"] == "ACTIVE" || data["channelCallState"] == "HANGUP")
	})

	if s.vertoPW != "" {
		vw := s.vertoClient(t, "1001")
		f.mustCLI("verto perm " + vw.Sessid() + " event_channels presence") // the stock users have no channel list
		vch := "presence.1000@" + modVertoDomain
		if _, err := vw.Subscribe(ctx, vch); err != nil {
			t.Fatal(err)
		}
		vc := s.vertoClient(t, "1000")
		vcall := vertoCall(t, ctx, vc.Client, "9196", client.CallOptions{Audio: client.Tone(500)})
		vactive := presenceState(t, vw, vch, "ACTIVE")
		sameKeys(t, "presence verto.event", vactive, active)
		sameKeys(t, "presence data", vactive["data"].(map[string]any), active["data"].(map[string]any))
		_ = vcall.Hangup(ctx)
		waitNoChannels(t, f)
	}

	// enable-presence off: nothing.
	s.reconfigure(t, strings.Replace(servicesConf(false)(s.f.nats.ClientURL()), `name="enable-presence" value="true"`, `name="enable-presence" value="false"`, 1))
	defer s.reconfigure(t, servicesConf(false)(s.f.nats.ClientURL()))
	call = vertoCall(t, ctx, caller.Client, "9196", client.CallOptions{Audio: client.Tone(500)})
	w.none(t, client.EventVerto, 2*time.Second, func(ev client.Event) bool { c, _ := presenceOf(t, ev); return c == ch })
	_ = call.Hangup(ctx)
	waitNoChannels(t, f)
}

// reconfigure writes xcc-rtc.conf.xml and runs `xrtc reload`.
func (s *svc) reconfigure(t *testing.T, conf string) {
	t.Helper()
	path := filepath.Join(s.f.dir, "conf", "autoload_configs", "xcc-rtc.conf.xml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := s.f.mustCLI("xrtc reload"); !strings.HasPrefix(out, "+OK") {
		t.Fatalf("xrtc reload: %s", out)
	}
}

// testFSEvents: with enable-fs-events off, a user whose directory lists its
// event channels may not subscribe an FSevent channel (mod_verto's rule);
// on, FreeSWITCH's events reach it as FSevent.<name>.
func (s *svc) testFSEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := s.xrtcClient(t, s.x2, "1001")
	var ve *verto.Error
	if _, err := w.Subscribe(ctx, "FSevent.channel_create"); !errors.As(err, &ve) {
		t.Fatalf("FSevent while enable-fs-events is off: %v", err)
	}
	s.reconfigure(t, servicesConf(true)(s.f.nats.ClientURL()))
	defer s.reconfigure(t, servicesConf(false)(s.f.nats.ClientURL()))
	if _, err := w.Subscribe(ctx, "FSevent.channel_create"); err != nil {
		t.Fatal(err)
	}
	caller := s.xrtcClient(t, s.x1, "1000")
	call, err := caller.Call(ctx, "9196", client.CallOptions{Audio: client.Tone(500)})
	if err != nil {
		t.Fatal(err)
	}
	ev := w.next(t, client.EventVerto, 15*time.Second, func(ev client.Event) bool {
		ch, data := presenceOf(t, ev)
		return ch == "FSevent.channel_create" && data["Unique-ID"] == call.ID()
	})
	if _, data := presenceOf(t, ev); data["Event-Name"] != "CHANNEL_CREATE" || data["Channel-Name"] != "xrtc/9196" {
		t.Errorf("FSevent data %v", data)
	}
	_ = call.Hangup(ctx)
	waitNoChannels(t, s.f)
}

// ---- item 11: jsapi and fsapi ----

// testAPI: the node runs a user's commands within its directory's
// jsonrpc-allowed-fsapi / -jsapi (bgapi's command checked too), and answers
// as mod_verto does.
func (s *svc) testAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := s.xrtcClient(t, s.x1, "1000")
	denied := func(what string, err error) {
		t.Helper()
		var ve *verto.Error
		if !errors.As(err, &ve) || ve.Code != verto.CodeInvalidParams || ve.Message != verto.MsgPermission {
			t.Errorf("%s: %v, want -32602 Permission Denied", what, err)
		}
	}
	if out, err := admin.FSAPI(ctx, "status", ""); err != nil || !strings.Contains(out, "UP") {
		t.Fatalf("fsapi status: %q %v", out, err)
	}
	if out, err := admin.FSAPI(ctx, "echo", "hello switch"); err != nil || strings.TrimSpace(out) != "hello switch" {
		t.Errorf("fsapi echo: %q %v", out, err)
	}
	if out, err := admin.FSAPI(ctx, "bgapi", "status"); err != nil || !strings.HasPrefix(out, "+OK Job-UUID") {
		t.Errorf("fsapi bgapi status: %q %v", out, err)
	}
	_, err := admin.FSAPI(ctx, "bgapi", "show channels")
	denied("fsapi bgapi show", err)
	_, err = admin.FSAPI(ctx, "show", "channels")
	denied("fsapi show", err)
	res, err := admin.JSAPI(ctx, "status", map[string]any{})
	if err != nil || !strings.Contains(string(res), `"systemStatus"`) {
		t.Fatalf("jsapi status: %s %v", res, err)
	}
	if res, err := admin.JSAPI(ctx, "fsapi", map[string]any{"cmd": "echo", "arg": "via jsapi"}); err != nil || !strings.Contains(string(res), "via jsapi") {
		t.Errorf("jsapi fsapi echo: %s %v", res, err)
	}
	_, err = admin.JSAPI(ctx, "fsapi", map[string]any{"cmd": "show", "arg": "channels"})
	denied("jsapi fsapi show", err)
	_, err = admin.JSAPI(ctx, "mediaStats", map[string]any{})
	denied("jsapi mediaStats", err)
	other := s.xrtcClient(t, s.x1, "1001")
	_, err = other.FSAPI(ctx, "status", "")
	denied("fsapi by a user without a list", err)

	if s.vertoPW == "" {
		return
	}
	v := s.vertoClient(t, "1000")
	for _, perm := range []string{"methods fsapi", "methods jsapi", "fsapi status", "jsapi status"} {
		s.f.mustCLI("verto perm " + v.Sessid() + " " + perm) // the stock users may run nothing
	}
	vout, err := v.FSAPI(ctx, "status", "")
	if err != nil || !strings.Contains(vout, "UP") {
		t.Fatalf("mod_verto fsapi status: %q %v", vout, err)
	}
	_, err = v.FSAPI(ctx, "show", "channels")
	denied("mod_verto fsapi show", err)
	vres, err := v.JSAPI(ctx, "status", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	sameKeys(t, "jsapi status result", paramsOf(t, vres), paramsOf(t, res))
}
