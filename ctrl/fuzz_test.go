package ctrl_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/verto"
)

// FuzzFrame feeds arbitrary frames to a logged-in socket of an in-process
// XCtrl (with a node behind it) and checks after each that the server did
// not die and the socket still answers verto.ping.
func FuzzFrame(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/verto/c2s-*.json")
	seeds = append(seeds, "../testdata/verto/batch.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{``, `[]`, `[1,2]`, `{`, `null`, `{"jsonrpc":"2.0","id":1}`, `{"jsonrpc":"2.0","id":{},"method":"x"}`,
		`{"jsonrpc":"2.0","id":2,"method":"verto.invite","params":{"sdp":"v","dialogParams":{"callID":"f1","destination_number":"3000"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"verto.broadcast","params":{"eventChannel":"conference-chat.3000","data":{"action":"send","message":"m"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"login","params":{"login":"1001@example.com","passwd":"secret"}}`,
		`{"jsonrpc":"2.0","id":5,"result":{"method":"verto.answer"}}`,
	} {
		f.Add([]byte(s))
	}
	e := ctrltest.New(f, ctrltest.Options{Timeout: time.Hour, NoLeak: true})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Limits.RatePerSec = 1e6
		c.Limits.RateBurst = 1e6
		c.Limits.UserRatePerSec = -1
		c.Limits.UserBytesPerSec = -1
		c.Limits.InviteRatePerUser = -1
		c.Limits.MaxCallsPerUser = -1
		c.Limits.MaxFrameBytes = 64 << 10
	})
	e.StartNode(fakenode.Options{UUID: "fz", AutoAnswer: true, Quiet: true})
	c := e.Login(x, "1000")
	n := 0
	var prev []byte // the frame before this one: a socket found closed was closed after it
	f.Fuzz(func(t *testing.T, frame []byte) {
		if err := c.SendRaw(frame); err != nil {
			// Say why the socket closed: the server's close frame, if it
			// sent one, and what came before.
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			ce, werr := c.Client.Closed(cctx)
			cancel()
			buf := make([]byte, 1<<20)
			t.Fatalf("send: %v (socket closed by the server: %v %v; previous frame %q)\n%s",
				err, ce, werr, prev, buf[:runtime.Stack(buf, true)])
		}
		prev = bytes.Clone(frame)
		n++
		id := fmt.Sprintf("fuzz-ping-%d", n)
		ping, _ := verto.NewRequest(verto.StringID(id), verto.MethodPing, map[string]any{"sessid": c.Sessid})
		b, _ := ping.Marshal()
		if err := c.SendRaw(b); err != nil {
			t.Fatalf("send ping: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		want := verto.StringID(id)
		_, err := c.Client.Next(ctx, func(m *verto.Message) bool {
			return m.Kind() == verto.KindResult && m.ID.Equal(want) && ctrltest.Param(m, "message") == "PONG"
		})
		if err != nil {
			t.Fatalf("after frame %q: %v", frame, err)
		}
		c.Drain()
	})
}
