package e2e

import (
	"testing"
	"time"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
)

// TestConferenceThreeThenTwo: three clients, two on XCtrl 1 and one on
// XCtrl 2, call conference 3000 with two nodes up. Every instance picks the
// same node for the same destination (rendezvous hashing), so they meet in
// one conference on one node; each sees the liveArray with three members,
// then with two once one hangs up.
//
// The users are the stack's built-in ones (no jsonrpc-allowed-event-channels):
// with the test directory XCtrl refuses the liveArray subscription, see
// TestConferenceDirectoryUser.
func TestConferenceThreeThenTwo(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 2, DirectoryFile: builtinUsers}, 40*time.Second)
	users := []struct{ ctrl, user int }{{0, 1000}, {1, 1001}, {0, 1002}}
	var calls []*client.Call
	var confs []*client.Conference
	for _, u := range users {
		c := e.dial(u.ctrl, u.user)
		call := e.call(c, "3000", client.CallOptions{Audio: client.Tone(500), NoProbe: true})
		cf, err := call.WaitConference(e.ctx)
		fatalIf(t, err, "user %d: conference", u.user)
		calls = append(calls, call)
		confs = append(confs, cf)
	}
	node := e.st.Node(calls[0].ID())
	if node == nil {
		t.Fatal("no node carries the first call")
	}
	for i, call := range calls {
		if call.NodeUUID() != node.Endpoint.NodeUUID() {
			t.Errorf("call %d on node %s, call 0 on %s", i, call.NodeUUID(), node.Endpoint.NodeUUID())
		}
	}
	ids := func(ms []client.Member) map[string]bool {
		out := map[string]bool{}
		for _, m := range ms {
			out[m.Key] = true
		}
		return out
	}
	for i, cf := range confs {
		ms, err := cf.WaitMembers(e.ctx, func(ms []client.Member) bool { return len(ms) == 3 })
		if err != nil {
			for j, c := range confs {
				t.Logf("client %d: %+v members %+v", j, c.Info(), c.Members())
			}
			for _, n := range e.st.Nodes {
				t.Logf("node %s: conference 3000 %v", n.Endpoint.NodeUUID(), n.Conference("3000"))
			}
		}
		fatalIf(t, err, "client %d: three members", i)
		got := ids(ms)
		for _, call := range calls {
			if !got[call.ID()] {
				t.Errorf("client %d: member list %v lacks %s", i, ms, call.ID())
			}
		}
	}
	if got := node.Conference("3000"); len(got) != 3 {
		t.Errorf("node conference 3000: %v", got)
	}
	for _, call := range calls {
		fatalIf(t, call.WaitReceived(e.ctx, 0), "media")
	}

	// The third leaves.
	e.hangup(calls[2])
	for i, cf := range confs[:2] {
		ms, err := cf.WaitMembers(e.ctx, func(ms []client.Member) bool { return len(ms) == 2 })
		fatalIf(t, err, "client %d: two members", i)
		if got := ids(ms); got[calls[2].ID()] || !got[calls[0].ID()] || !got[calls[1].ID()] {
			t.Errorf("client %d: member list %v after %s left", i, ms, calls[2].ID())
		}
	}
	if got := node.Conference("3000"); len(got) != 2 {
		t.Errorf("node conference 3000 after one left: %v", got)
	}
	e.hangup(calls[0])
	e.hangup(calls[1])
}

// TestConferenceDirectoryUser: user 1000 of the test directory, whose
// domain says jsonrpc-allowed-event-channels "demo,conference,presence"
// (FreeSWITCH's vanilla directory), joins conference 3000 and must be able
// to subscribe to the channels the join event names. mod_conference grants
// a member's socket its conference channels (switch_event_channel_permission_modify)
// and mod_verto lets those through whatever the user's list says.
// XCtrl records the channels a join grants to the socket (ctrl/inbound.go
// learnChannels) and lets them through.
func TestConferenceDirectoryUser(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 1, Nodes: 1}, 30*time.Second)
	c := e.dial(0, 1000)
	call := e.call(c, "3000", client.CallOptions{Audio: client.Silence(), NoProbe: true})
	cf, err := call.WaitConference(e.ctx)
	fatalIf(t, err, "conference")
	res, err := c.Subscribe(e.ctx, cf.Info().LAChannel)
	if err != nil || len(res.UnauthorizedChannels) > 0 {
		e.hangup(call)
		t.Fatalf("%s refused to a member of the conference (%v %+v)", cf.Info().LAChannel, err, res)
	}
	ms, err := cf.WaitMembers(e.ctx, func(ms []client.Member) bool { return len(ms) == 1 })
	fatalIf(t, err, "member list")
	if ms[0].Key != call.ID() {
		t.Errorf("members %+v", ms)
	}
	e.hangup(call)
}
