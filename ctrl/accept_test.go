package ctrl_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"xccrtc/ctrl/internal/ctrltest"
)

// The ws:// listener reads handshakes itself: heads that arrive in pieces,
// frames pipelined behind the handshake, heads too large, broken
// handshakes and plain requests each get the right answer.
func TestAcceptHandshakes(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", x.WSAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	status := func(t *testing.T, c net.Conn) int {
		t.Helper()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return resp.StatusCode
	}
	handshake := "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

	t.Run("pieces and pipelined login", func(t *testing.T) {
		c := dial(t)
		for _, piece := range []string{handshake[:5], handshake[5:60], handshake[60 : len(handshake)-2]} {
			if _, err := c.Write([]byte(piece)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		login := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"1000@%s","passwd":%q}}`,
			ctrltest.Domain, ctrltest.Password)
		var buf bytes.Buffer
		buf.WriteString("\r\n")
		if err := ws.WriteFrame(&buf, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(login)))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", resp, err)
		}
		msg, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{br, c})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(msg), `"result"`) || !strings.Contains(string(msg), "logged in") {
			t.Fatalf("login answer %s", msg)
		}
	})
	t.Run("head too large", func(t *testing.T) {
		c := dial(t)
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nX-Pad: " + strings.Repeat("a", 8000) + "\r\n\r\n"))
		if got := status(t, c); got != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("handshake without key", func(t *testing.T) {
		c := dial(t)
		_, _ = c.Write([]byte(strings.Replace(handshake, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1)))
		if got := status(t, c); got != http.StatusBadRequest {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("healthz on the ws port", func(t *testing.T) {
		resp, err := http.Get("http://" + x.WSAddr() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("silent connection", func(t *testing.T) {
		// A connection that sends nothing holds no more than a goroutine
		// until the head timeout; others are served meanwhile.
		_ = dial(t)
		if got := status(t, func() net.Conn {
			c := dial(t)
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			return c
		}()); got != http.StatusUpgradeRequired {
			t.Fatalf("status %d", got)
		}
	})
}
