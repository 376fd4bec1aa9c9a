package ctrl_test

import (
	"testing"

	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// A channel nobody owns (presence, FSevent) is subscribed on every node;
// it is refused only when every node refuses it (an xrtc node refuses
// FSevent channels while its enable-fs-events is off), so that the client
// hears unauthorizedChannels as from mod_verto.
func TestUnownedChannelRefusedByEveryNode(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	e.Users.Add("1000", ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-event-channels": "FSevent,presence"})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1", Refuse: []string{"FSevent"}})
	e.WaitNode("n1", true)
	c := e.Login(x, "1000")
	r := c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": []string{"FSevent.heartbeat", "presence.1001@" + ctrltest.Domain}})
	var res verto.SubscribeResult
	if r.Error != nil || ctrltest.Decode(r, &res) != nil || len(res.SubscribedChannels) != 1 ||
		len(res.UnauthorizedChannels) != 1 || res.UnauthorizedChannels[0] != "FSevent.heartbeat" {
		t.Fatalf("one node refusing: %+v %+v", r.Error, res)
	}
	// A second node takes it: the subscription stands.
	e.StartNode(fakenode.Options{UUID: "n2"})
	e.WaitNode("n2", true)
	r = c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": "FSevent.heartbeat"})
	res = verto.SubscribeResult{}
	if r.Error != nil || ctrltest.Decode(r, &res) != nil || len(res.SubscribedChannels) != 1 {
		t.Fatalf("one of two nodes refusing: %+v %+v", r.Error, res)
	}
}

// A node that joins after a socket subscribed a channel nobody owns
// (presence) hears the subscription too, so that its calls' presence
// reaches the socket.
func TestUnownedSubscriptionsReachNewNodes(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	e.Users.Add("1000", ctrltest.Domain, ctrltest.Password, map[string]string{"jsonrpc-allowed-event-channels": "FSevent,presence"})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1"})
	e.WaitNode("n1", true)
	c := e.Login(x, "1000")
	if r := c.Call(verto.MethodSubscribe, map[string]any{"eventChannel": "presence.1001@" + ctrltest.Domain}); r.Error != nil {
		t.Fatal(r.Error)
	}
	n2 := e.StartNode(fakenode.Options{UUID: "n2"})
	got, err := n2.Wait(e.Ctx, verto.MethodSubscribe, func(r fakenode.Received) bool {
		var ch []string
		var sessid string
		return r.Param("eventChannel", &ch) && r.Param("sessid", &sessid) && sessid == c.Sessid &&
			len(ch) == 1 && ch[0] == "presence.1001@"+ctrltest.Domain
	})
	if err != nil {
		t.Fatalf("the new node did not hear the subscription: %v", err)
	}
	var u struct {
		Login string `json:"login"`
	}
	if !got.Param("xrtc_user", &u) || u.Login != "1000@"+ctrltest.Domain {
		t.Errorf("subscription without the identity: %s", got.Params)
	}
}
