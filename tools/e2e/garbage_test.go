package e2e

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/tools/client"
	"xccrtc/tools/e2e/stack"
	"xccrtc/verto"
)

// TestGarbageWhileCallsCarryOn: while a client's echo call carries audio
// through XCtrl 1, a raw socket on the same instance sends invalid JSON,
// non-JSON-RPC objects, unknown methods, a frame over 256 KiB, a batch
// over 32, JSON nested too deep, binary junk, calls that do not exist and
// an invite with an SDP that does not parse (relayed to the node). Every
// frame gets its JSON-RPC error, the socket keeps answering verto.ping,
// and the call goes on without loss.
func TestGarbageWhileCallsCarryOn(t *testing.T) {
	e := newEnv(t, stack.Options{Ctrls: 2, Nodes: 1}, 40*time.Second)
	alice := e.dial(0, 1000)
	call := e.call(alice, "9196", client.CallOptions{Audio: client.Tone(1000)})
	fatalIf(t, call.WaitReceived(e.ctx, 25), "echo")
	before := call.Report()

	g := e.rawDial(0)
	expect := func(what string, code int, msg string) {
		t.Helper()
		err := g.anyError(what)
		if (code != 0 && err.Code != code) || (msg != "" && !strings.Contains(err.Message, msg)) {
			t.Errorf("%s: error %d %q, want %d %q", what, err.Code, err.Message, code, msg)
		}
	}
	text := func(s string) { g.write(websocket.TextMessage, []byte(s)) }

	// Before login.
	text(`{"jsonrpc":"2.0","method":"verto.invite","id":1,"params":{}}`)
	expect("invite before login", verto.CodeAuthRequired, "")
	text(`{this is not json`)
	expect("invalid JSON before login", verto.CodeInvalidRequest, "")
	g.login(1002)
	g.ping()

	cases := []struct {
		what  string
		frame func()
		code  int
		msg   string
	}{
		{"invalid JSON", func() { text(`{"jsonrpc":"2.0","method":`) }, verto.CodeInvalidRequest, ""},
		{"not JSON-RPC", func() { text(`{"hello":"world"}`) }, verto.CodeInvalidRequest, ""},
		{"a bare string", func() { text(`"verto.invite"`) }, verto.CodeInvalidRequest, ""},
		{"wrong jsonrpc version", func() { text(`{"jsonrpc":"1.0","method":"verto.ping","id":90}`) }, verto.CodeInvalidRequest, ""},
		{"unknown method", func() { g.send("verto.frobnicate", map[string]any{"x": 1}) }, verto.CodeMethodNotFound, ""},
		{"params of the wrong type", func() { g.send(verto.MethodInvite, []int{1, 2, 3}) }, 0, ""},
		{"oversized frame", func() {
			text(`{"jsonrpc":"2.0","method":"verto.info","id":91,"params":{"pad":"` + strings.Repeat("x", 300<<10) + `"}}`)
		}, 0, verto.MsgTooLarge},
		{"batch over 32", func() {
			var b bytes.Buffer
			b.WriteByte('[')
			for i := 0; i < 40; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"jsonrpc":"2.0","method":"verto.ping","id":%d,"params":{}}`, 100+i)
			}
			b.WriteByte(']')
			g.write(websocket.TextMessage, b.Bytes())
		}, 0, verto.MsgBatchTooLarge},
		{"nested too deep", func() {
			text(`{"jsonrpc":"2.0","method":"verto.info","id":92,"params":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`)
		}, 0, ""},
		{"binary junk", func() { g.write(websocket.BinaryMessage, []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0xff}) }, 0, ""},
		{"bye for a call that does not exist", func() {
			g.send(verto.MethodBye, map[string]any{"sessid": g.sessid, "dialogParams": map[string]any{"callID": "no-such-call"}})
		}, verto.CodeSessionError, verto.MsgCallNotExist},
		{"invite with an SDP that does not parse", func() {
			g.send(verto.MethodInvite, map[string]any{"sessid": g.sessid, "sdp": "v=0\r\ngarbage\r\n",
				"dialogParams": map[string]any{"callID": "garbage-sdp-" + g.sessid[:8], "destination_number": "9196"}})
		}, 0, ""},
	}
	for _, c := range cases {
		c.frame()
		expect(c.what, c.code, c.msg)
		g.ping() // answered after everything the frame caused
		if extra := g.drainKept(); len(extra) > 0 {
			t.Errorf("%s: %d more replies than one error: %v", c.what, len(extra), extra)
		}
	}

	// The call carried on: more audio back, still up, no loss.
	fatalIf(t, call.WaitReceived(e.ctx, before.RTPPacketsReceived+50), "echo after the garbage")
	if call.State() != client.StateActive {
		t.Errorf("call state %s", call.State())
	}
	if n, in := e.st.Ctrls[0].Sockets(); n != 2 || in != 2 {
		t.Errorf("xctrl 1 sockets: %d open, %d logged in; want 2, 2", n, in)
	}
	r := e.hangup(call)
	expectMedia(t, r, 50)
	if r.RTPPacketsLost != 0 {
		t.Errorf("lost %d packets", r.RTPPacketsLost)
	}
}
