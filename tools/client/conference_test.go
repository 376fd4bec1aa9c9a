package client

import (
	"encoding/json"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

func keys(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Key)
	}
	return out
}

func TestConference(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{NodeUUID: "node-4", Moderator: true})
	// someone is already in the room
	srv.AddMember("3000", "early-bird", "0100", "2000", "Early Bird")
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "conf-3000", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := call.WaitConference(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info := cf.Info()
	if info.Name != "3000" || info.LAChannel != "conference-liveArray.3000@example.com" ||
		info.ChatChannel == "" || info.ModChannel == "" || info.Role != "moderator" {
		t.Errorf("info %+v", info)
	}
	// bootstrap: the early bird and this call
	ms, err := cf.WaitMembers(ctx, func(ms []Member) bool { return len(ms) == 2 })
	if err != nil {
		t.Fatalf("bootstrap: %v (members %v)", err, keys(ms))
	}
	if ms[0].Key != "early-bird" || ms[0].Name != "Early Bird" || ms[0].Number != "2000" || ms[0].ID != "0100" {
		t.Errorf("first member %+v", ms[0])
	}
	if ms[1].Key != call.ID() {
		t.Errorf("members %v, want this call second", keys(ms))
	}
	// add and del update the list
	srv.AddMember("3000", "late", "0200", "3000", "Late")
	if ms, err = cf.WaitMembers(ctx, func(ms []Member) bool { return len(ms) == 3 }); err != nil {
		t.Fatalf("add: %v (%v)", err, keys(ms))
	}
	srv.DelMember("3000", "early-bird")
	if ms, err = cf.WaitMembers(ctx, func(ms []Member) bool { return len(ms) == 2 && ms[0].Key == call.ID() }); err != nil {
		t.Fatalf("del: %v (%v)", err, keys(ms))
	}
	// chat goes out on the chat channel and comes back re-broadcast
	if err := cf.SendChat(ctx, "hello room"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-cf.Chat():
		if m.Message != "hello room" || m.From != testUser {
			t.Errorf("chat %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("no chat message")
	}
	// moderator command and its response
	if err := cf.Moderate(ctx, "mute", "0200", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-cf.ModResponses():
		var r map[string]any
		_ = json.Unmarshal(d, &r)
		if r["conf-command"] != "mute" {
			t.Errorf("mod response %s", d)
		}
	case <-ctx.Done():
		t.Fatal("no moderator response")
	}
	// subscriptions were to the channels the join event named
	subs := map[string]bool{}
	for _, r := range srv.Messages() {
		if r.Msg.Method == verto.MethodSubscribe {
			var p verto.SubscribeParams
			_ = r.Msg.DecodeParams(&p)
			for _, ch := range p.EventChannel {
				subs[ch] = true
			}
		}
	}
	if !subs[info.LAChannel] || !subs[info.ChatChannel] || !subs[info.ModChannel] || !subs[info.InfoChannel] {
		t.Errorf("subscribed %v", subs)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

// A wireSerno gap makes the client bootstrap again.
func TestConferenceSernoGapRebootstraps(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	call, err := c.Call(ctx, "conf-4000", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := call.WaitConference(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.WaitMembers(ctx, func(ms []Member) bool { return len(ms) == 1 }); err != nil {
		t.Fatal(err)
	}
	srv.AddMember("4000", "a", "0010", "10", "A") // establishes the serno
	if _, err := cf.WaitMembers(ctx, func(ms []Member) bool { return len(ms) == 2 }); err != nil {
		t.Fatal(err)
	}
	srv.SkipSerno("4000")
	srv.AddMember("4000", "b", "0011", "11", "B")
	bootstraps := func(r vertotest.Received) bool {
		return r.Msg.Method == verto.MethodBroadcast && string(r.Msg.Params) != "" &&
			json.Valid(r.Msg.Params) && containsBootstrap(r.Params)
	}
	n := 0
	if _, err := srv.WaitFor(ctx, func(r vertotest.Received) bool {
		if bootstraps(r) {
			n++
		}
		return n == 2
	}); err != nil {
		t.Fatalf("no second bootstrap after the gap: %v", err)
	}
	if _, err := cf.WaitMembers(ctx, func(ms []Member) bool { return len(ms) == 3 }); err != nil {
		t.Fatal(err)
	}
}

func containsBootstrap(p map[string]any) bool {
	d, _ := p["data"].(map[string]any)
	la, _ := d["liveArray"].(map[string]any)
	return la["command"] == "bootstrap"
}

func TestParseMember(t *testing.T) {
	tests := []struct {
		row  string
		want Member
	}{
		{`["0012","1000","Alice","opus@48000","TALKING (FLOOR)",{},null]`,
			Member{Key: "k", ID: "0012", Number: "1000", Name: "Alice", Codec: "opus@48000", Status: "TALKING (FLOOR)", Talking: true}},
		{`["0013","1001","Bob","PCMU@8000","{\"audio\":{\"muted\":true,\"deaf\":false,\"onHold\":true,\"talking\":false}}"]`,
			Member{Key: "k", ID: "0013", Number: "1001", Name: "Bob", Codec: "PCMU@8000",
				Status: `{"audio":{"muted":true,"deaf":false,"onHold":true,"talking":false}}`, Muted: true, Held: true}},
		{`["1"]`, Member{Key: "k", ID: "1"}},
		{`{}`, Member{Key: "k"}},
	}
	for _, tt := range tests {
		if got := parseMember("k", json.RawMessage(tt.row)); got != tt.want {
			t.Errorf("parseMember(%s) = %+v, want %+v", tt.row, got, tt.want)
		}
	}
}
