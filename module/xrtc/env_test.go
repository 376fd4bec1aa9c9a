package xrtc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"xccrtc/ctrl/natsd"
	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/verto"
)

const (
	nodeUUID = "node-1"
	ctrlUUID = "ctrl-1"
	sessid   = "sess-1"
	goodSDP  = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
)

// env is one endpoint on the fake host, a fake XCtrl and an embedded NATS.
type env struct {
	t     *testing.T
	ns    *natsd.Server
	url   string
	host  *xrtctest.Host
	clock *xrtctest.Clock
	ep    *xrtc.Endpoint
	ctrl  *xrtctest.Ctrl
	node  string // the node's subject
}

func testConfig() xrtc.Config {
	return xrtc.Config{
		Settings: xrtc.Settings{DetachTimeout: 120 * time.Second},
		Profiles: map[string]*xrtc.Profile{
			"default": {Name: "default", MediaTimeout: 5 * time.Second, Context: "default", Dialplan: "XML"},
			"custom":  {Name: "custom", CtrlSubject: "cn.xswitch.ctrl.custom", ForceRegisterDomain: "custom.example"},
		},
	}
}

func testLog() *slog.Logger {
	if os.Getenv("XRTC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newEnv(t *testing.T, mutate ...func(*xrtc.Options)) *env {
	t.Helper()
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", NoJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Close)
	e := &env{t: t, ns: ns, url: ns.ClientURL(), host: xrtctest.NewHost(), clock: xrtctest.NewClock()}
	o := xrtc.Options{
		Config:        testConfig(),
		Host:          e.host,
		NodeUUID:      nodeUUID,
		Clock:         e.clock,
		Log:           testLog(),
		ReconnectWait: 20 * time.Millisecond,
		OnPanic:       func(v any) { t.Errorf("panic in endpoint: %v", v) },
	}
	o.Config.Settings.NATSURLs = []string{e.url}
	for _, m := range mutate {
		m(&o)
	}
	e.ctrl = xrtctest.NewCtrl(t, e.url, ctrlUUID)
	ep, err := xrtc.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.ep = ep
	if err := ep.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ep.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	e.node = ep.NodeSubject()
	return e
}

// checkLeaks fails the test if goroutines started during it are still
// running once its cleanups ran (registered first, so it runs last).
func checkLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond) // polling for goroutines to exit, not synchronising
		}
	})
}

func user() map[string]any {
	return map[string]any{"login": "1000@xswitch.cn", "id": "1000", "domain": "xswitch.cn",
		"caller_id_name": "Alice", "caller_id_number": "1000", "variables": map[string]string{"user_context": "users"}}
}

// invite places a client call and returns its channel on the fake host.
func (e *env) invite(callID, dest string) *xrtctest.Channel {
	e.t.Helper()
	rep := e.ctrl.Send(e.t, e.node, verto.MethodInvite, map[string]any{
		"sessid": sessid, "sdp": goodSDP, "xrtc_user": user(),
		"dialogParams": map[string]any{"callID": callID, "destination_number": dest},
	})
	r := xrtctest.Result(e.t, rep)
	if r["message"] != "CALL CREATED" || r["callID"] != callID || r["node_uuid"] != nodeUUID {
		e.t.Fatalf("invite result %v", r)
	}
	return e.host.NextChannel(e.t)
}

// answered places a client call and has the switch answer it.
func (e *env) answered(callID string) *xrtctest.Channel {
	e.t.Helper()
	ch := e.invite(callID, "9196")
	e.ep.ChannelAnswer(callID, "v=0 answer")
	p := e.ctrl.Expect(e.t, verto.MethodAnswer)
	if p["callID"] != callID {
		e.t.Fatalf("answer for %v", p["callID"])
	}
	return ch
}

// call sends a call-scoped client request and returns the reply.
func (e *env) call(method, callID string, extra map[string]any) *verto.Message {
	e.t.Helper()
	p := map[string]any{"sessid": sessid, "xrtc_user": user(), "dialogParams": map[string]any{"callID": callID}}
	for k, v := range extra {
		p[k] = v
	}
	return e.ctrl.Send(e.t, e.node, method, p)
}

func errMsg(t *testing.T, m *verto.Message) string {
	t.Helper()
	return xrtctest.ErrorOf(t, m).Message
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

var _ = fmt.Sprint
