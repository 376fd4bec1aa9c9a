package ctrl_test

import (
	"encoding/json"
	"testing"

	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

func TestConferenceChannelsRouteToTheirNode(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	nodes := map[string]*fakenode.Node{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = e.StartNode(fakenode.Options{UUID: id, AutoAnswer: true})
	}
	alice := e.Login(x, "1000")
	bob := e.Login(x, "1001")
	var conf *fakenode.Node
	for i, c := range []*ctrltest.Browser{alice, bob} {
		callID := []string{"ca", "cb"}[i]
		c.Invite(callID, "3000", nil)
		conf = nodes[ctrltest.Param(c.ExpectCall(verto.MethodTrying, callID), "node_uuid")]
		c.ExpectCall(verto.MethodAnswer, callID)
		conf.JoinConference(callID, "3000@"+ctrltest.Domain)
		join := c.Expect(verto.MethodEvent)
		var pvt struct {
			PvtData verto.PvtData `json:"pvtData"`
		}
		if err := ctrltest.Decode(join, &pvt); err != nil || pvt.PvtData.Action != verto.PvtActionJoin {
			t.Fatalf("join event %s", join.Params)
		}
	}
	la := "conference-liveArray.3000@" + ctrltest.Domain
	chat := "conference-chat.3000@" + ctrltest.Domain
	for _, c := range []*ctrltest.Browser{alice, bob} {
		r := c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": []string{la, chat}})
		var sr verto.SubscribeResult
		if r.Error != nil || ctrltest.Decode(r, &sr) != nil || len(sr.SubscribedChannels) != 2 {
			t.Fatalf("subscribe: %+v %s", r.Error, r.Result)
		}
	}
	if _, err := conf.Wait(e.Ctx, verto.MethodSubscribe, nil); err != nil {
		t.Fatal(err)
	}
	// A socket that is not in the conference: the owning node refuses it.
	eve := e.Login(x, "1002")
	r0 := eve.Call(verto.MethodSubscribe, map[string]any{"eventChannel": la})
	var un []string
	if r0.Error == nil || !r0.Error.Field("unauthorizedChannels", &un) || len(un) != 1 || un[0] != la {
		t.Fatalf("outsider subscribe: %+v %s", r0.Error, r0.Result)
	}
	// Bootstrap: only the requester gets the snapshot.
	r := alice.Call(verto.MethodBroadcast, map[string]any{"eventChannel": la,
		"data": map[string]any{"liveArray": map[string]any{"command": "bootstrap", "context": la, "name": "3000@" + ctrltest.Domain}}})
	if r.Error != nil {
		t.Fatalf("bootstrap: %+v", r.Error)
	}
	boot := alice.Expect(verto.MethodEvent)
	if ctrltest.Param(boot, "eventChannel") != la {
		t.Fatalf("bootObj %s", boot.Params)
	}
	// Chat: XCtrl stamps who is talking, whatever the client claims.
	alice.Call(verto.MethodBroadcast, map[string]any{"eventChannel": chat, "userid": "mallory@evil", "fromDisplay": "Boss",
		"data": map[string]any{"action": "send", "message": "hello", "type": "message"}})
	got, err := conf.Wait(e.Ctx, verto.MethodBroadcast, func(r fakenode.Received) bool {
		var ch string
		return r.Param("eventChannel", &ch) && ch == chat
	})
	if err != nil {
		t.Fatal(err)
	}
	var uid, disp string
	got.Param("userid", &uid)
	got.Param("fromDisplay", &disp)
	if uid != "1000@"+ctrltest.Domain || disp != "1000" {
		t.Fatalf("node saw userid %q fromDisplay %q", uid, disp)
	}
	msg := bob.Expect(verto.MethodEvent)
	var ev struct {
		Data struct {
			Message string `json:"message"`
			From    string `json:"from"`
		} `json:"data"`
	}
	if err := ctrltest.Decode(msg, &ev); err != nil || ev.Data.Message != "hello" || ev.Data.From != "1000@"+ctrltest.Domain {
		t.Fatalf("chat to bob %s", msg.Params)
	}
	// Other nodes never saw the conference's channels.
	for id, n := range nodes {
		if n == conf {
			continue
		}
		if n.Seen(verto.MethodBroadcast) {
			t.Fatalf("node %s got a broadcast", id)
		}
	}
	// Unsubscribe, and again: not subscribed.
	if r := alice.Call(verto.MethodUnsubscribe, map[string]any{"eventChannel": chat}); r.Error != nil {
		t.Fatalf("unsubscribe: %+v", r.Error)
	}
	if r := alice.Call(verto.MethodUnsubscribe, map[string]any{"eventChannel": chat}); r.Error == nil {
		t.Fatal("second unsubscribe succeeded")
	}
}

func TestSubscribePermissions(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	e.Users.Add("1100", ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-event-channels": "presence"})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1100")
	r := c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": []string{"presence.1000@" + ctrltest.Domain, "FSevent.all"}})
	var sr verto.SubscribeResult
	if r.Error != nil || ctrltest.Decode(r, &sr) != nil || len(sr.SubscribedChannels) != 1 || len(sr.UnauthorizedChannels) != 1 {
		t.Fatalf("%+v %s", r.Error, r.Result)
	}
	r = c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": "presence.1000@" + ctrltest.Domain})
	if r.Error != nil || ctrltest.Decode(r, &sr) != nil || len(sr.AlreadySubscribedChannels) != 1 {
		t.Fatalf("again: %+v %s", r.Error, r.Result)
	}
	// Only unauthorized: mod_verto's error, with a code (mod_verto has none).
	r = c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": "FSevent.all"})
	var un []string
	if r.Error == nil || r.Error.Code != verto.CodeInvalidParams || r.Error.Message != verto.MsgPermission || !r.Error.Field("unauthorizedChannels", &un) || len(un) != 1 {
		t.Fatalf("only unauthorized: %+v", r.Error)
	}
	b := c.Call(verto.MethodBroadcast, map[string]any{"eventChannel": "FSevent.all", "data": map[string]any{}})
	var br verto.Error
	if b.Error != nil || json.Unmarshal(b.Result, &br) != nil || br.Message != "Permission Denied." {
		t.Fatalf("broadcast on a forbidden channel: %+v %s", b.Error, b.Result)
	}
}

func TestEventPermissionsReachTheNode(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	e.Users.Add("1300", ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-event-channels": "presence conference"})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	c := e.Login(x, "1300")
	c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": "presence.1000@" + ctrltest.Domain})
	got, err := n.Wait(e.Ctx, verto.MethodSubscribe, nil)
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		verto.User
		verto.EventPermissions
	}
	if !got.Param("xrtc_user", &u) || u.Login != "1300@"+ctrltest.Domain || len(u.AllowedEventChannels) != 2 {
		t.Fatalf("xrtc_user %+v", u)
	}
}
