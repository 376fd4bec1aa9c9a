package client

import (
	"errors"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
	"xccrtc/verto"
)

func incoming(t *testing.T, c *Client) *Call {
	t.Helper()
	select {
	case call := <-c.Incoming():
		return call
	case <-time.After(10 * time.Second):
		t.Fatal("no incoming call")
	}
	return nil
}

func TestAnswerIncoming(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{NodeUUID: "node-2"})
	c := dial(t, ctx, testOptions(srv.URL()))
	id, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{CallerIDName: "Bob", CallerIDNumber: "2000"})
	if err != nil {
		t.Fatal(err)
	}
	call := incoming(t, c)
	if call.ID() != id || call.Direction() != DirectionInbound || call.State() != StateRinging {
		t.Fatalf("incoming %s %s %s", call.ID(), call.Direction(), call.State())
	}
	if name, num := call.Remote(); name != "Bob" || num != "2000" {
		t.Errorf("remote %q %q", name, num)
	}
	if err := call.Answer(ctx, CallOptions{Audio: Tone(440)}); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if err := call.WaitReceived(ctx, 25); err != nil {
		t.Fatal(err)
	}
	if err := call.WaitRTT(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ci, err := srv.WaitCall(ctx, id, func(ci vertotest.CallInfo) bool { return ci.Answered && ci.Received > 0 })
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Bye(id, verto.CauseNormalClearing); err != nil {
		t.Fatal(err)
	}
	if err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	r := call.Report()
	t.Logf("report:\n%s", r)
	if !r.Answered || r.RTPPacketsReceived < 25 || r.RTPPacketsSent == 0 || r.NodeUUID != "node-2" ||
		r.HangupCause != "NORMAL_CLEARING" || r.EndedBy != EndedByRemote || r.Direction != "inbound" {
		t.Errorf("report %+v, server %+v", r, ci)
	}
	// the answer went with the invite's callID and node_uuid, and the
	// invite was acknowledged
	ans, err := srv.WaitFor(ctx, func(r vertotest.Received) bool { return r.Msg.Method == verto.MethodAnswer })
	if err != nil {
		t.Fatal(err)
	}
	dp, _ := ans.Params["dialogParams"].(map[string]any)
	if dp["callID"] != id || ans.Params["node_uuid"] != "node-2" || ans.Params["sdp"] == "" {
		t.Errorf("verto.answer params %v", ans.Params)
	}
	if _, err := srv.WaitFor(ctx, func(r vertotest.Received) bool {
		var a verto.AckResult
		return r.Msg.Kind() == verto.KindResult && r.Msg.DecodeResult(&a) == nil && a.Method == verto.MethodInvite
	}); err != nil {
		t.Error("verto.invite not acknowledged")
	}
}

func TestRejectIncoming(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	id, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{CallerIDNumber: "2000"})
	if err != nil {
		t.Fatal(err)
	}
	call := incoming(t, c)
	if err := call.Reject(ctx, verto.CauseUserBusy); err != nil {
		t.Fatal(err)
	}
	ci, err := srv.WaitCall(ctx, id, func(ci vertotest.CallInfo) bool { return ci.Ended })
	if err != nil {
		t.Fatal(err)
	}
	if ci.Cause != "USER_BUSY" || ci.Answered {
		t.Errorf("server %+v", ci)
	}
	if r := call.Report(); r.Answered || r.HangupCause != "USER_BUSY" || r.EndedBy != EndedByLocal {
		t.Errorf("report %+v", r)
	}
	if err := call.Answer(ctx, CallOptions{}); err == nil {
		t.Error("Answer after Reject succeeded")
	}
}

// The caller gives up while the client rings.
func TestIncomingCancelled(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	c := dial(t, ctx, testOptions(srv.URL()))
	id, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	call := incoming(t, c)
	if err := srv.Bye(id, verto.CauseOriginatorCancel); err != nil {
		t.Fatal(err)
	}
	if err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := call.Answer(ctx, CallOptions{}); err == nil {
		t.Error("Answer of a cancelled call succeeded")
	}
	if r := call.Report(); r.HangupCause != "ORIGINATOR_CANCEL" {
		t.Errorf("report %+v", r)
	}
}

// A new process with the sessid of one that crashed mid-call gets the call
// back (verto.attach for a call it does not know), as a reloaded page does.
func TestRecoverAfterCrash(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{NodeUUID: "node-6"})
	o := testOptions(srv.URL())
	c1 := dial(t, ctx, o)
	call, err := c1.Call(ctx, "echo", CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := call.WaitReceived(ctx, 5); err != nil {
		t.Fatal(err)
	}
	c1.mu.Lock()
	conn := c1.conn
	c1.mu.Unlock()
	conn.abort(errors.New("crash")) // no bye, no close frame
	<-c1.Done()
	if r := call.Report(); r.EndedBy != EndedBySocket {
		t.Errorf("crashed call ended by %q", r.EndedBy)
	}

	o.Sessid = c1.Sessid()
	c2 := dial(t, ctx, o)
	got := incoming(t, c2)
	if got.ID() != call.ID() || !got.Recovered() || got.State() != StateActive || got.NodeUUID() != "node-6" {
		t.Fatalf("recovered call %s %v %s %s", got.ID(), got.Recovered(), got.State(), got.NodeUUID())
	}
	if err := got.Answer(ctx, CallOptions{}); err != nil {
		t.Errorf("Answer of a recovered call: %v", err)
	}
	if err := got.WaitReceived(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := got.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if ci, _ := srv.CallInfo(call.ID()); ci.Attaches != 1 || ci.Cause != "NORMAL_CLEARING" {
		t.Errorf("server %+v", ci)
	}
}

// An invite that finds Incoming full is refused with USER_BUSY.
func TestIncomingFull(t *testing.T) {
	ctx := start(t, 30*time.Second)
	srv := newServer(t, vertotest.Config{})
	o := testOptions(srv.URL())
	o.IncomingBuffer = 1
	c := dial(t, ctx, o)
	if _, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{}); err != nil {
		t.Fatal(err)
	}
	id2, err := srv.Invite(ctx, testUser, vertotest.InviteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ci, err := srv.WaitCall(ctx, id2, func(ci vertotest.CallInfo) bool { return ci.Ended })
	if err != nil {
		t.Fatal(err)
	}
	if ci.Cause != "USER_BUSY" {
		t.Errorf("second call %+v", ci)
	}
	first := incoming(t, c)
	if err := first.Reject(ctx, 0); err != nil {
		t.Fatal(err)
	}
}
