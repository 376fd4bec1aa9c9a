package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// vertoStub is a Verto server on another WebSocket library (gorilla):
// before each reply it sends a WebSocket ping, and it sends each reply in
// fragments, so that the client's frame reader is tested on what a
// server may do, not only on what XCtrl does.
func vertoStub(t *testing.T, pongs *atomic.Int64) string {
	t.Helper()
	// A write buffer shorter than any reply: gorilla sends a frame each
	// time it fills.
	up := websocket.Upgrader{WriteBufferSize: 24}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPongHandler(func(string) error { pongs.Add(1); return nil })
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			s := string(msg)
			id := s[strings.Index(s, `"id":`)+5 : strings.Index(s, `,"method"`)]
			if err := c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
				return
			}
			reply := `{"jsonrpc":"2.0","id":` + id + `,"result":{"message":"ok"}}`
			if strings.Contains(s, `"login"`) && strings.Contains(s, `"passwd":"bad"`) {
				reply = `{"jsonrpc":"2.0","id":` + id + `,"error":{"code":-32001,"message":"Authentication Failure"}}`
			}
			wr, err := c.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			_, _ = wr.Write([]byte(reply))
			if wr.Close() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

func TestLoadAgainstAnotherServer(t *testing.T) {
	var pongs atomic.Int64
	url := vertoStub(t, &pongs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := Open(ctx, Options{URL: url, Sockets: 5, Concurrency: 2, Users: 2, Domain: "example.com", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Len() != 5 {
		t.Fatalf("%d sockets, want 5", l.Len())
	}
	d, err := l.Ping(ctx, 3, 9)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 9 {
		t.Fatalf("%d pings timed, want 9", len(d))
	}
	// A ping before each of 5 login replies and 9 ping replies: each
	// answered with a pong (the server reads them before its next reply).
	deadline := time.Now().Add(5 * time.Second)
	for pongs.Load() < 14-5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := pongs.Load(); n < 14-5 {
		t.Fatalf("%d pongs, want at least 9", n)
	}
}

func TestLoadLoginRefused(t *testing.T) {
	var pongs atomic.Int64
	url := vertoStub(t, &pongs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{URL: url, Sockets: 3, Domain: "example.com", Password: "bad"})
	if err == nil || !strings.Contains(err.Error(), "Authentication Failure") {
		t.Fatalf("err %v, want the server's refusal", err)
	}
}
