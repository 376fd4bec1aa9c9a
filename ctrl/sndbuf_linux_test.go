package ctrl_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// TestKernelSendBufferIsBounded: what the kernel holds for a client socket
// is bounded too, not only what XCtrl queues. A client that reads fast for
// a while has Linux grow the socket's send buffer up to tcp_wmem's maximum
// (4 MiB by default); stopping then, it had the kernel hold that much for
// it, unseen by --max-queued-total: thousands of sockets so held gigabytes
// of kernel memory, and TCP's memory pressure slowed every socket of the
// machine. XCtrl sets SO_SNDBUF; what a socket does not take waits in
// XCtrl's queue, under its bounds.
func TestKernelSendBufferIsBounded(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxQueue = 1 << 16
		c.Limits.MaxQueueBytes = 64 << 20
		c.Limits.MaxQueuedTotal = 256 << 20
	})
	n := e.StartNode(fakenode.Options{UUID: "n1", Quiet: true})
	conn, _, err := websocket.DefaultDialer.DialContext(e.Ctx, x.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const sessid = "fast-reader"
	login, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "login",
		"params": map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": ctrltest.Password, "sessid": sessid}})
	if err := conn.WriteMessage(websocket.TextMessage, login); err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		for {
			_, m, err := conn.ReadMessage()
			if err != nil {
				return
			}
			got.Add(int64(len(m)))
		}
	}()
	if err := x.WaitSockets(e.Ctx, func(_, in int) bool { return in == 1 }); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	const events = 256 // 16 MiB, read as fast as it comes
	for i := 0; i < events; i++ {
		rep, err := n.Request(e.Ctx, x.CtrlUUID(), verto.MethodEvent, map[string]any{"eventChannel": sessid, "sessid": sessid,
			"data": map[string]any{"blob": big, "i": i}})
		if err != nil || rep.Error != nil {
			t.Fatalf("event %d: %v %+v", i, err, rep)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() < events*64<<10 {
		if time.Now().After(deadline) {
			t.Fatalf("the client read %d bytes of %d", got.Load(), events*64<<10)
		}
		time.Sleep(10 * time.Millisecond)
	}
	bufs := ctrl.SendBuffers(x)
	if len(bufs) != 1 {
		t.Fatalf("%d sockets", len(bufs))
	}
	// The kernel reports twice what was set (its bookkeeping included).
	if want := 2 * ctrl.DefaultSocketSendBuffer; bufs[0] > want {
		t.Fatalf("the kernel holds up to %d bytes for the socket, want at most %d", bufs[0], want)
	}
}
