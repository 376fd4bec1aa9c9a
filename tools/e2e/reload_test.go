package e2e

import (
	"slices"
	"testing"
	"time"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// TestReloadOntoOtherInstance: mid-call the page reloads (the WebSocket is
// dropped without a bye) and comes back on XCtrl 2 with the same sessid.
// XCtrl 2 sends xrtc.login to the node, the node re-offers the detached
// call with verto.attach, the client answers it with a new peer connection
// (new ICE and DTLS), and the echo goes on: the same node channel, more
// audio both ways, one reload in the report.
func TestReloadOntoOtherInstance(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1}, 40*time.Second)
	c1, c2 := e.st.Ctrls[0], e.st.Ctrls[1]
	c := e.dial(0, 1000)
	call := e.call(c, "9196", client.CallOptions{Audio: client.Tone(1000)})
	fatalIf(t, call.WaitReceived(e.ctx, 50), "echo")
	ch := e.st.Channel(call.ID())
	if ch == nil {
		t.Fatal("no node channel")
	}
	before := call.Report().RTPPacketsReceived

	fatalIf(t, c.Reload(e.ctx, e.st.WSURL(1)), "reload")
	if got := c.Reattached(); !slices.Contains(got, call.ID()) {
		t.Errorf("clientReady reattached_sessions %v, want %s", got, call.ID())
	}
	fatalIf(t, c1.WaitSockets(e.ctx, func(open, in int) bool { return open == 0 }), "socket gone from xctrl 1")
	if _, in := c2.Sockets(); in != 1 {
		t.Errorf("xctrl 2: %d logged-in sockets, want 1", in)
	}
	inBefore := ch.Stats().RTPIn // the new peer connection's counter
	fatalIf(t, call.WaitReceived(e.ctx, before+100), "echo after the reload")
	e.eventually("the client's audio at the node after the reload", func() bool { return ch.Stats().RTPIn >= inBefore+100 })
	if e.st.Channel(call.ID()) != ch || call.State() != client.StateActive {
		t.Errorf("after the reload: channel replaced or call %s", call.State())
	}

	r := e.hangup(call)
	expectMedia(t, r, 150)
	if r.Reloads != 1 {
		t.Errorf("reloads %d, want 1", r.Reloads)
	}
	select {
	case <-ch.Done():
	case <-e.ctx.Done():
		t.Fatal("node channel still up")
	}
	if ch.Cause() != verto.CauseNormalClearing {
		t.Errorf("node channel cause %s", ch.Cause())
	}
	t.Logf("after a reload onto xctrl 2: %s", r)
}
