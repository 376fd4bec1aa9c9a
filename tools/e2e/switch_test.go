package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/module/xrtc"
	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// The switch's services beside the calls, end to end on the test host:
// chat to users, contacts and per-socket calls, presence, jsapi/fsapi.

// events collects a client's events of some kinds.
type events chan client.Event

func (e *env) dialEvents(i, user int, kinds ...client.EventKind) (*client.Client, events) {
	e.t.Helper()
	ch := make(events, 64)
	c, err := client.Dial(e.ctx, client.Options{
		URL: e.st.WSURL(i), Login: stack.User(user), Passwd: stack.Password,
		Settings: client.LoopbackSettings(), Logger: testLogger(e.t),
		OnEvent: func(ev client.Event) {
			for _, k := range kinds {
				if ev.Kind == k {
					select {
					case ch <- ev:
					default:
					}
				}
			}
		},
	})
	if err != nil {
		e.t.Fatalf("login %d on xctrl %d: %v", user, i+1, err)
	}
	e.mu.Lock()
	e.clients = append(e.clients, c)
	e.mu.Unlock()
	return c, ch
}

func (e *env) next(ch events, what string) client.Event {
	e.t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-e.ctx.Done():
		e.t.Fatalf("no %s", what)
	}
	return client.Event{}
}

// TestChatAcrossInstances: a user's message goes through the switch (its
// chat plan sends it on the xrtc chat protocol) to every socket of the
// addressee, on whichever XCtrl each is.
func TestChatAcrossInstances(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2}, 30*time.Second)
	alice, _ := e.dialEvents(0, 1000)
	_, bob1 := e.dialEvents(0, 1001, client.EventInfo)
	_, bob2 := e.dialEvents(1, 1001, client.EventInfo)
	if err := alice.SendMessage(e.ctx, stack.User(1001), "hello Bob"); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []events{bob1, bob2} {
		ev := e.next(ch, "chat")
		var p verto.ServerCallParams
		if err := json.Unmarshal(ev.Params, &p); err != nil || p.Msg == nil {
			t.Fatalf("socket %d: %s", i, ev.Params)
		}
		if p.Msg.From != stack.User(1000) || p.Msg.To != stack.User(1001) || p.Msg.Body != "hello Bob" || p.CallID != "" {
			t.Errorf("socket %d got %+v", i, p.Msg)
		}
	}
	// The node's own chat to a user (FreeSWITCH: chat xrtc|from|to|body).
	if err := e.st.Nodes[0].Endpoint.SendChatToUser(xrtc.UserChat{From: "operator@xswitch.cn", To: stack.User(1001), Body: "from the switch"}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []events{bob1, bob2} {
		if ev := e.next(ch, "chat from the switch"); !strings.Contains(ev.Text, "from the switch") {
			t.Errorf("got %q", ev.Text)
		}
	}
}

// TestContactRingsEachDevice: xrtc_contact lists one dial string per
// socket of a user across instances, and each rings that device alone, as
// its own leg; a user with no socket is error/user_not_registered.
func TestContactRingsEachDevice(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2}, 40*time.Second)
	node := e.st.Nodes[0]
	if got := node.Endpoint.ContactDialString(stack.User(1002)); got != verto.NotRegisteredDialString {
		t.Fatalf("nobody logged in: %q", got)
	}
	phone := e.dial(0, 1002)
	laptop := e.dial(1, 1002)
	got := node.Endpoint.ContactDialString(stack.User(1002))
	legs := strings.Split(got, ",")
	want := map[string]*client.Client{"xrtc/u:" + phone.Sessid(): phone, "xrtc/u:" + laptop.Sessid(): laptop}
	if len(legs) != 2 || want[legs[0]] == nil || want[legs[1]] == nil {
		t.Fatalf("contact %q, want the dial strings of %v", got, []string{phone.Sessid(), laptop.Sessid()})
	}
	for _, leg := range legs {
		c := want[leg]
		other := phone
		if c == phone {
			other = laptop
		}
		done := make(chan error, 1)
		go func() {
			_, err := node.Originate(e.ctx, leg, "tone")
			done <- err
		}()
		var in *client.Call
		select {
		case in = <-c.Incoming():
		case <-e.ctx.Done():
			t.Fatalf("%s did not ring", leg)
		}
		if err := in.Answer(e.ctx, client.CallOptions{Audio: client.Tone(600)}); err != nil {
			t.Fatalf("answer %s: %v", leg, err)
		}
		if err := <-done; err != nil {
			t.Fatalf("originate %s: %v", leg, err)
		}
		select {
		case x := <-other.Incoming():
			t.Fatalf("%s rang the other device too (%s)", leg, x.ID())
		default:
		}
		if err := in.WaitReceived(e.ctx, 20); err != nil {
			t.Fatalf("%s: no audio: %v", leg, err)
		}
		e.hangup(in)
	}
	// A socket that left: the leg fails as mod_verto's does.
	sessid := laptop.Sessid()
	_ = laptop.Close()
	if err := e.st.Ctrls[1].WaitSockets(e.ctx, func(_, in int) bool { return in == 0 }); err != nil {
		t.Fatal(err)
	}
	if _, err := node.Originate(e.ctx, "xrtc/u:"+sessid, "tone"); xrtc.CauseOf(err) != verto.CauseUserNotRegistered {
		t.Fatalf("call to a closed socket: %v", err)
	}
}

// TestPresenceAcrossInstances: the node that has a call sends its presence
// to the socket that subscribed it on another XCtrl: the current state at
// once (presence_ping), then every change.
func TestPresenceAcrossInstances(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Node: func(_ int, c *xrtc.Config) { c.Settings.EnablePresence = true }}, 40*time.Second)
	alice := e.dial(0, 1000)
	call := e.call(alice, "9196", client.CallOptions{Audio: client.Tone(500)})
	bob, ch := e.dialEvents(1, 1001, client.EventVerto)
	if _, err := bob.Subscribe(e.ctx, "presence."+stack.User(1000)); err != nil {
		t.Fatal(err)
	}
	state := func(what string) map[string]any {
		t.Helper()
		ev := e.next(ch, what)
		var p struct {
			EventChannel string         `json:"eventChannel"`
			Data         map[string]any `json:"data"`
		}
		if err := json.Unmarshal(ev.Params, &p); err != nil || p.EventChannel != "presence."+stack.User(1000) {
			t.Fatalf("%s: %s", what, ev.Params)
		}
		return p.Data
	}
	if d := state("the current state"); d["channelCallState"] != "ACTIVE" || d["channelUUID"] != call.ID() ||
		d["channelPresenceID"] != stack.User(1000) || d["callerIDNumber"] != "1000" {
		t.Fatalf("presence %v", d)
	}
	e.hangup(call)
	if d := state("the hang-up"); d["channelCallState"] != "HANGUP" {
		t.Fatalf("presence %v", d)
	}
}

// TestAPICommands: with XCtrl's --enable-fsapi/--enable-jsapi, a user's
// commands run on a node within the directory's jsonrpc-allowed-fsapi /
// -jsapi, checked by XCtrl and again by the node.
func TestAPICommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "directory.xml")
	if err := os.WriteFile(dir, []byte(`<document type="freeswitch/xml"><section name="directory">
  <domain name="xswitch.cn"><params><param name="jsonrpc-allowed-methods" value="verto,jsapi,fsapi"/></params>
    <users>
      <user id="1000"><params><param name="password" value="1234"/>
        <param name="jsonrpc-allowed-fsapi" value="status,echo"/><param name="jsonrpc-allowed-jsapi" value="status"/></params></user>
      <user id="1001"><params><param name="password" value="1234"/></params></user>
    </users></domain></section></document>`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, stack.Options{DirectoryFile: dir, Ctrl: func(_ int, c *ctrl.Config) { c.EnableFSAPI, c.EnableJSAPI = true, true }}, 30*time.Second)
	admin := e.dial(0, 1000)
	out, err := admin.FSAPI(e.ctx, "status", "")
	if err != nil || !strings.HasPrefix(out, "UP testhost") {
		t.Fatalf("fsapi status: %q %v", out, err)
	}
	if out, err := admin.FSAPI(e.ctx, "echo", "hi there"); err != nil || out != "hi there" {
		t.Fatalf("fsapi echo: %q %v", out, err)
	}
	res, err := admin.JSAPI(e.ctx, "status", map[string]any{})
	if err != nil || !strings.Contains(string(res), `"systemStatus":"ready"`) {
		t.Fatalf("jsapi status: %s %v", res, err)
	}
	var ve *verto.Error
	if _, err := admin.FSAPI(e.ctx, "show", "channels"); !errors.As(err, &ve) || ve.Code != verto.CodeInvalidParams {
		t.Fatalf("fsapi show: %v", err)
	}
	// A user without lists may run nothing (mod_verto: unset is none).
	other := e.dial(0, 1001)
	if _, err := other.FSAPI(e.ctx, "status", ""); !errors.As(err, &ve) || ve.Code != verto.CodeInvalidParams {
		t.Fatalf("fsapi by a user without a list: %v", err)
	}
}
