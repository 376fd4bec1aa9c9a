package ctrl_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// TestPipelinedFrames: frames sent in the same packet as the handshake are
// not lost (they sit in the HTTP reader when the upgrade completes).
func TestPipelinedFrames(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	c, err := net.Dial("tcp", x.WSAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET / HTTP/1.1\r\nHost: " + x.WSAddr() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	var frames []byte
	for i := 1; i <= 2; i++ {
		b, _ := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"echo","params":{"n":%d}}`, i, i)))))
		frames = append(frames, b...)
	}
	if _, err := c.Write(append([]byte(req), frames...)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	for i := 1; i <= 2; i++ {
		b, _, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{br, c})
		if err != nil {
			t.Fatal(err)
		}
		// Not logged in: -32000, with the request's id.
		if !strings.Contains(string(b), fmt.Sprintf(`"id":%d`, i)) {
			t.Fatalf("reply %d: %s", i, b)
		}
	}
}

// TestPingPongAndClose: a WebSocket ping gets its pong; a close frame gets
// a close frame back and the socket is forgotten.
func TestPingPongAndClose(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	c, _, err := websocket.DefaultDialer.Dial(x.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	closed := make(chan int, 1)
	c.SetCloseHandler(func(code int, _ string) error { closed <- code; return nil })
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if err := c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-pong:
		if p != "hi" {
			t.Fatalf("pong %q", p)
		}
	case <-e.Ctx.Done():
		t.Fatal("no pong")
	}
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-closed:
		if code != 4001 {
			t.Fatalf("close code %d, want the client's 4001 echoed", code)
		}
	case <-e.Ctx.Done():
		t.Fatal("no close frame back")
	}
	if err := x.WaitSockets(e.Ctx, func(open, _ int) bool { return open == 0 }); err != nil {
		t.Fatal(err)
	}
}

// TestIdleSocketsHoldNoGoroutine: on Linux, logged-in idle ws:// sockets
// wait in the epoll poller, not in a goroutine each; with NoPoller they
// have one.
func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux-only")
	}
	for _, noPoller := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPoller=%v", noPoller), func(t *testing.T) {
			e := ctrltest.New(t, ctrltest.Options{})
			x := e.StartCtrl(func(c *ctrl.Config) {
				c.NoPoller = noPoller
				c.Timers.ReadLinger = time.Millisecond // busy sockets keep their reader this long
			})
			ctx, cancel := context.WithTimeout(e.Ctx, time.Minute)
			defer cancel()
			base := runtime.NumGoroutine()
			const n = 40
			for i := 0; i < n; i++ {
				b := e.Login(x, "1000")
				defer b.Close()
			}
			if err := x.WaitSockets(ctx, func(_, in int) bool { return in == n }); err != nil {
				t.Fatal(err)
			}
			// Each test client has its own reader goroutine (n); the
			// server keeps n more only without the poller. With it, the
			// readers that lingered after the logins go within moments.
			grown := runtime.NumGoroutine() - base
			if noPoller {
				if grown < 2*n {
					t.Fatalf("NoPoller: %d goroutines for %d sockets, want a reader each", grown, n)
				}
				return
			}
			for grown >= 2*n {
				select {
				case <-ctx.Done():
					t.Fatalf("poller: %d goroutines for %d idle sockets", grown, n)
				case <-time.After(10 * time.Millisecond): // polls the goroutine count
				}
				grown = runtime.NumGoroutine() - base
			}
		})
	}
}

// TestNoFrameLostUnderBackpressure: a client that reads late (its socket
// buffers full meanwhile) still gets every frame, in order, once it reads;
// and its socket keeps working after that, past the write deadline of the
// writes that waited for it (found by FuzzFrame: the deadline outlived
// them, and the next direct write, Timers.Write later, failed on it and
// dropped the socket).
func TestNoFrameLostUnderBackpressure(t *testing.T) {
	const write = 2 * time.Second
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.MaxQueue = 1 << 14
		c.Limits.MaxQueueBytes = 256 << 20
		c.Timers.Write = write
	})
	n := e.StartNode(fakenode.Options{UUID: "n1"})
	conn, _, err := smallWindowDialer().DialContext(e.Ctx, x.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const sessid = "backpressure-1"
	login := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"1000@%s","passwd":%q,"sessid":%q}}`,
		ctrltest.Domain, ctrltest.Password, sessid)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(login)); err != nil {
		t.Fatal(err)
	}
	if err := x.WaitSockets(e.Ctx, func(_, in int) bool { return in == 1 }); err != nil {
		t.Fatal(err)
	}
	const frames = 300
	blob := strings.Repeat("y", 32<<10)
	for i := 0; i < frames; i++ {
		rep, err := n.Request(e.Ctx, x.CtrlUUID(), verto.MethodEvent, map[string]any{"eventChannel": sessid, "sessid": sessid,
			"data": map[string]any{"blob": blob, "seq": i}})
		if err != nil || rep.Error != nil {
			t.Fatalf("event %d: %v %v", i, err, rep.Error)
		}
	}
	next := 0
	for next < frames {
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("after event %d: %v", next, err)
		}
		if !strings.Contains(string(b), `"method":"verto.event"`) {
			continue
		}
		var m struct {
			Params struct {
				Data struct {
					Seq int `json:"seq"`
				} `json:"data"`
			} `json:"params"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame after event %d: %v", next, err)
		}
		if m.Params.Data.Seq != next {
			t.Fatalf("got event %d, want %d: frames lost", m.Params.Data.Seq, next)
		}
		next++
	}
	time.Sleep(write + write/2)
	ping := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"verto.ping","params":{"sessid":%q}}`, sessid)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(ping)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("no answer to a ping after the backlog: %v", err)
		}
		if strings.Contains(string(b), `"id":2`) {
			if !strings.Contains(string(b), "PONG") {
				t.Fatalf("ping answered %s", b)
			}
			return
		}
	}
}

// smallWindowDialer dials with a 4 KiB receive buffer, as a far client's
// window would be: on loopback the kernel would otherwise take tens of MB
// that the client does not read.
func smallWindowDialer() *websocket.Dialer {
	nd := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	return &websocket.Dialer{NetDialContext: nd.DialContext}
}

// WebSocket pings count against the socket's rate like messages: each
// costs XCtrl a pong, and a client that sends them by the thousand, before
// it logs in or after, would have a core of XCtrl answer them (found by
// reading the frame reader: control frames bypassed the rate limit). So do
// pongs, and small fragments of a message (browsers send whole messages;
// one message cut in byte-long fragments cost a frame's work per byte). A
// socket that keeps sending them past its rate is dropped (1008), as a
// message flood is; others go on.
func TestPingFloodIsRateLimited(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec = 5
		c.Limits.RateBurst = 10
	})
	other := e.Login(x, "1001")
	for _, op := range []ws.OpCode{ws.OpPing, ws.OpPong, ws.OpContinuation} {
		conn, br, _, err := ws.Dial(e.Ctx, x.WSURL())
		if err != nil {
			t.Fatal(err)
		}
		var flood []byte
		for i := range 5000 {
			f := ws.NewFrame(op, true, []byte("x"))
			if op == ws.OpContinuation { // one message in 5,000 fragments of a byte, never ended
				f = ws.NewFrame(op, false, []byte("x"))
				if i == 0 {
					f = ws.NewFrame(ws.OpText, false, []byte("x"))
				}
			}
			b, _ := ws.CompileFrame(ws.MaskFrame(f))
			flood = append(flood, b...)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = conn.Write(flood) }() // may be cut off halfway
		var rd io.Reader = conn
		if br != nil {
			rd = io.MultiReader(br, conn)
		}
		pongs, code, reason := 0, ws.StatusCode(0), ""
		for {
			h, err := ws.ReadHeader(rd)
			if err != nil {
				break
			}
			payload := make([]byte, h.Length)
			if _, err := io.ReadFull(rd, payload); err != nil {
				break
			}
			if h.OpCode == ws.OpPong {
				pongs++
			}
			if h.OpCode == ws.OpClose {
				code, reason = ws.ParseCloseFrameData(payload)
				break
			}
		}
		conn.Close()
		if code != ws.StatusPolicyViolation || reason != verto.MsgRateLimited || pongs > 100 {
			t.Errorf("5,000 frames of opcode %d: closed with %d %q after %d pongs, want %d %q after at most 100",
				op, code, reason, pongs, ws.StatusPolicyViolation, verto.MsgRateLimited)
		}
	}
	alive(t, other)
}
