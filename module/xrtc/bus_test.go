package xrtc_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/ctrl/natsd"
	"xccrtc/module/xrtc"
	"xccrtc/module/xrtc/xrtctest"
	"xccrtc/natsauth"
)

// nats.go closes a connection for good on some server errors (here a
// control line over 4,096 bytes): the node's bus dials a new connection and
// its subscriptions work again, instead of leaving the node off the bus for
// the life of FreeSWITCH.
func TestNATSBusReplacesAConnectionClosedForGood(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", NoJetStream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	back := make(chan struct{}, 1)
	b, err := xrtc.DialNATS([]string{ns.ClientURL()}, xrtc.NATSOptions{Log: testLog(), ReconnectWait: 20 * time.Millisecond,
		Reconnected: func() { back <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 16)
	if _, err := b.Subscribe("node.x", "", func(_, _ string, data []byte) { got <- string(data) }); err != nil {
		t.Fatal(err)
	}
	old := b.Conn()
	_ = old.Publish(strings.Repeat("x", 5000), nil) // the server answers -ERR and closes
	select {
	case <-back:
	case <-ctx.Done():
		t.Fatal("no new connection")
	}
	if b.Conn() == old || !b.Connected() {
		t.Fatalf("still on the closed connection (%s)", b.Status())
	}
	peer, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := peer.Publish("node.x", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "hello" {
			t.Fatalf("got %q", m)
		}
	case <-time.After(xrtctest.Wait):
		t.Fatal("the subscription did not come back")
	}
	if err := b.Publish(strings.Repeat("y", 5000), nil); err == nil {
		t.Fatal("an over-long subject went to the server")
	}
}

// The node connects with the credentials of xcc-rtc.conf.xml: here the
// token file XCtrl's embedded NATS writes.
func TestEndpointConnectsWithATokenFile(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", NoJetStream: true, Token: "node-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	file := filepath.Join(t.TempDir(), "nats.token")
	if err := natsauth.WriteToken(file, "node-token"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Settings.NATSURLs = []string{ns.ClientURL()}
	cfg.Settings.NATSAuth = natsauth.Auth{TokenFile: file}
	ep, err := xrtc.New(xrtc.Options{Config: cfg, Host: xrtctest.NewHost(), NodeUUID: "tok-node", Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := nats.Connect(ns.ClientURL(), nats.Token("node-token"))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	sub, err := peer.SubscribeSync("cn.xswitch.status.node")
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Flush(); err != nil { // the subscription is in before the node announces itself
		t.Fatal(err)
	}
	if err := ep.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ep.Stop(ctx)
	if _, err := sub.NextMsg(xrtctest.Wait); err != nil {
		t.Fatalf("no node status from a node with a token: %v", err)
	}
	cfg.Settings.NATSAuth = natsauth.Auth{TokenFile: filepath.Join(t.TempDir(), "missing")}
	bad, err := xrtc.New(xrtc.Options{Config: cfg, Host: xrtctest.NewHost(), NodeUUID: "bad-node", Log: testLog()})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Start(ctx); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("started with a missing token file: %v", err)
	}
	_ = bad.Stop(ctx)
}

// XCtrl's embedded NATS takes a new token each time XCtrl starts, and
// writes it to the token file. A node on that machine must come back on
// the bus after XCtrl restarts (a crash, an upgrade): it reads the file
// again at each connect, not only when the module loads (found by reading
// the code: the node retried the old token until FreeSWITCH was restarted).
func TestNodeFollowsARestartedXCtrlsNewToken(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", NoJetStream: true, Token: "first-token"})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(ns.ClientURL(), "nats://")
	file := filepath.Join(t.TempDir(), "nats.token")
	if err := natsauth.WriteToken(file, "first-token"); err != nil {
		t.Fatal(err)
	}
	auth, err := natsauth.Auth{TokenFile: file}.Options()
	if err != nil {
		t.Fatal(err)
	}
	back := make(chan struct{}, 4)
	b, err := xrtc.DialNATS([]string{ns.ClientURL()}, xrtc.NATSOptions{Log: testLog(), ReconnectWait: 20 * time.Millisecond,
		Auth: auth, Reconnected: func() { back <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Subscribe("node.x", "", func(_, _ string, _ []byte) {}); err != nil {
		t.Fatal(err)
	}
	// XCtrl restarts: a new server on the same port, with a new token in
	// the file.
	ns.Close()
	if err := natsauth.WriteToken(file, "second-token"); err != nil {
		t.Fatal(err)
	}
	ns2, err := natsd.Start(ctx, natsd.Options{Listen: addr, NoJetStream: true, Token: "second-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns2.Close()
	select {
	case <-back:
	case <-ctx.Done():
		t.Fatalf("the node never came back on the bus with the new token (%s)", b.Status())
	}
	if !b.Connected() {
		t.Fatalf("not connected after coming back (%s)", b.Status())
	}
}
