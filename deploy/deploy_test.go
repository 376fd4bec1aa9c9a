// Package deploy holds the deployment files (systemd units, the NATS
// cluster configuration, the FreeSWITCH side); its test starts the NATS
// configuration as written and checks its permissions.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
)

var secrets = map[string]string{
	"NATS_SYS_PASSWORD": "sys-secret", "ROUTE_PASSWORD": "route-secret",
	"XCTRL_A_PASSWORD": "xa-secret", "XCTRL_B_PASSWORD": "xb-secret",
	"FS_A_PASSWORD": "fa-secret", "FS_B_PASSWORD": "fb-secret",
}

// startCluster runs n1/n2/n3.conf as written except for addresses and
// folders: loopback ports and a temporary JetStream store.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	var srvs []*server.Server
	var routes []string
	for i := 1; i <= 3; i++ {
		o, err := server.ProcessConfigFile(filepath.Join("nats", fmt.Sprintf("n%d.conf", i)))
		if err != nil {
			t.Fatalf("n%d.conf: %v", i, err)
		}
		o.Host, o.Port, o.HTTPPort = "127.0.0.1", -1, 0
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", -1
		o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		o.StoreDir = t.TempDir()
		o.NoSigs, o.NoLog = true, true
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("n%d not ready", i)
		}
		routes = append(routes, "nats-route://route:route-secret@"+s.ClusterAddr().String())
		srvs = append(srvs, s)
	}
	return srvs
}

// client is a connection as one user.
type client struct {
	nc   *nats.Conn
	last error // LastError seen by the previous denied call
}

func connect(t *testing.T, url, user string) *client {
	t.Helper()
	nc, err := nats.Connect(url, nats.UserInfo(user, secrets[strings.ToUpper(strings.ReplaceAll(user, "-", "_"))+"_PASSWORD"]),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return &client{nc: nc}
}

// denied reports whether the server refused something since the last
// call: the server's -ERR comes before the PONG of a flush, and the client
// records it (LastError) before it handles that PONG.
func (c *client) denied(t *testing.T) bool {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	err := c.nc.LastError()
	if err == nil || err == c.last {
		return false
	}
	c.last = err
	return errors.Is(err, nats.ErrPermissionViolation)
}

func TestNATSClusterPermissions(t *testing.T) {
	srvs := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	urlOf := func(i int) string { return srvs[i].ClientURL() }

	// The registry with 3 replicas, as xctrl --registry-replicas 3 makes
	// it: create, register, look up, across servers.
	xa, xb := connect(t, urlOf(0), "xctrl-a"), connect(t, urlOf(1), "xctrl-b")
	waitMetaLeader(t, srvs)
	regA, err := ctrl.NewKVRegistry(ctx, xa.nc, ctrl.KVOptions{Bucket: "xrtc_registry", TTL: time.Minute, Replicas: 3})
	if err != nil {
		t.Fatalf("xctrl-a creates the registry: %v (refused: %v)", err, xa.nc.LastError())
	}
	var regB *ctrl.KVRegistry
	if regB, err = ctrl.NewKVRegistry(ctx, xb.nc, ctrl.KVOptions{Bucket: "xrtc_registry", TTL: time.Minute, Replicas: 3}); err != nil {
		t.Fatalf("xctrl-b opens the registry: %v", err)
	}
	if _, err := regA.Register(ctx, ctrl.RegEntry{CtrlUUID: "xctrl-a", Sessid: "s1", Login: "1000@example.com"}); err != nil {
		t.Fatalf("register: %v", err)
	}
	if got, err := regB.Lookup(ctx, "1000@example.com"); err != nil || len(got) != 1 || got[0].CtrlUUID != "xctrl-a" {
		t.Fatalf("lookup from xctrl-b: %v %v", got, err)
	}
	if owner, ok, err := regB.Owner(ctx, "s1"); err != nil || !ok || owner.CtrlUUID != "xctrl-a" {
		t.Fatalf("owner from xctrl-b: %v %v %v", owner, ok, err)
	}
	// The call book (xrtc_calls) the same way.
	bookA, err := ctrl.NewKVCallBook(ctx, xa.nc, ctrl.KVOptions{Bucket: "xrtc_calls", TTL: 10 * time.Minute, Replicas: 3})
	if err != nil {
		t.Fatalf("xctrl-a creates the call book: %v (refused: %v)", err, xa.nc.LastError())
	}
	bookB, err := ctrl.NewKVCallBook(ctx, xb.nc, ctrl.KVOptions{Bucket: "xrtc_calls", TTL: 10 * time.Minute, Replicas: 3})
	if err != nil {
		t.Fatalf("xctrl-b opens the call book: %v", err)
	}
	if err := bookA.Put(ctx, "s1", "fs-a"); err != nil {
		t.Fatalf("call book put: %v", err)
	}
	if nodes, err := bookB.Nodes(ctx, "s1"); err != nil || len(nodes) != 1 || nodes[0] != "fs-a" {
		t.Fatalf("call book from xctrl-b: %v %v", nodes, err)
	}
	if xa.denied(t) || xb.denied(t) {
		t.Fatal("an XCtrl was refused a registry or call book operation")
	}

	fa, fb := connect(t, urlOf(2), "fs-a"), connect(t, urlOf(0), "fs-b")
	// A node answers a relayed request and reaches an XCtrl.
	sub, err := fa.nc.Subscribe("cn.xswitch.node.fs-a", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if _, err := fa.nc.QueueSubscribe("cn.xswitch.node", "xnode", func(m *nats.Msg) { _ = m.Respond([]byte("any")) }); err != nil {
		t.Fatal(err)
	}
	if fa.denied(t) {
		t.Fatal("fs-a was refused its own subjects")
	}
	waitInterest(t, xa.nc, "cn.xswitch.node.fs-a")
	if r, err := xa.nc.Request("cn.xswitch.node.fs-a", []byte("verto.info"), 5*time.Second); err != nil || string(r.Data) != "ok" {
		t.Fatalf("xctrl-a -> fs-a request: %v %v", r, err)
	}
	if _, err := xa.nc.Subscribe("cn.xswitch.ctrl.xctrl-a", func(m *nats.Msg) { _ = m.Respond([]byte("SENT")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := xa.nc.QueueSubscribe("cn.xswitch.ctrl.rtc", "xctrl", func(m *nats.Msg) { _ = m.Respond([]byte("RINGING")) }); err != nil {
		t.Fatal(err)
	}
	if xa.denied(t) {
		t.Fatal("xctrl-a was refused its own subjects")
	}
	waitInterest(t, fa.nc, "cn.xswitch.ctrl.xctrl-a")
	waitInterest(t, fa.nc, "cn.xswitch.ctrl.rtc")
	if r, err := fa.nc.Request("cn.xswitch.ctrl.xctrl-a", []byte("verto.answer"), 5*time.Second); err != nil || string(r.Data) != "SENT" {
		t.Fatalf("fs-a -> xctrl-a request: %v %v", r, err)
	}
	if r, err := fa.nc.Request("cn.xswitch.ctrl.rtc", []byte("verto.invite"), 5*time.Second); err != nil || string(r.Data) != "RINGING" {
		t.Fatalf("fs-a -> ctrl.rtc request: %v %v", r, err)
	}
	if err := fa.nc.Publish("cn.xswitch.status.node", []byte("Event.NodeUpdate")); err != nil || fa.denied(t) {
		t.Fatal("fs-a may not publish its status")
	}

	// What each may not do.
	for _, tc := range []struct {
		name string
		c    *client
		do   func(nc *nats.Conn) error
	}{
		{"a node poses as XCtrl to another node", fb, func(nc *nats.Conn) error { return nc.Publish("cn.xswitch.node.fs-a", []byte("x")) }},
		{"a node reads another node's traffic", fb, func(nc *nats.Conn) error {
			_, err := nc.Subscribe("cn.xswitch.node.fs-a", func(*nats.Msg) {})
			return err
		}},
		{"a node reads an XCtrl's traffic", fb, func(nc *nats.Conn) error {
			_, err := nc.Subscribe("cn.xswitch.ctrl.>", func(*nats.Msg) {})
			return err
		}},
		{"a node writes the registry", fb, func(nc *nats.Conn) error { return nc.Publish("$KV.xrtc_registry.s.x", []byte("{}")) }},
		{"a node writes the call book", fb, func(nc *nats.Conn) error { return nc.Publish("$KV.xrtc_calls.s.x", []byte("n")) }},
		{"a node calls the JetStream API", fb, func(nc *nats.Conn) error { return nc.Publish("$JS.API.STREAM.INFO.KV_xrtc_registry", nil) }},
		{"an XCtrl reads another XCtrl's subject", xb, func(nc *nats.Conn) error {
			_, err := nc.Subscribe("cn.xswitch.ctrl.xctrl-a", func(*nats.Msg) {})
			return err
		}},
		{"an XCtrl reads a node's subject", xb, func(nc *nats.Conn) error {
			_, err := nc.Subscribe("cn.xswitch.node.fs-a", func(*nats.Msg) {})
			return err
		}},
		{"an XCtrl deletes the registry stream", xb, func(nc *nats.Conn) error {
			return nc.Publish("$JS.API.STREAM.DELETE.KV_xrtc_registry", nil)
		}},
		{"an XCtrl creates another stream", xb, func(nc *nats.Conn) error { return nc.Publish("$JS.API.STREAM.CREATE.OTHER", nil) }},
		{"an XCtrl publishes outside the bus", xb, func(nc *nats.Conn) error { return nc.Publish("other.subject", nil) }},
	} {
		if err := tc.do(tc.c.nc); err != nil && !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !tc.c.denied(t) {
			t.Errorf("%s: allowed", tc.name)
		}
	}
	if _, err := nats.Connect(urlOf(0), nats.UserInfo("fs-a", "wrong")); err == nil {
		t.Error("a wrong password connects")
	}
	if _, err := nats.Connect(urlOf(0)); err == nil {
		t.Error("no credentials connects")
	}
}

// waitMetaLeader waits until the cluster elected its JetStream meta leader
// and the leader knows every member (the JetStream API answers nothing
// before, and places no replicated stream).
func waitMetaLeader(t *testing.T, srvs []*server.Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// A leader is not enough: a stream with replicas is placed only
		// on the peers the leader has current stats of ("no suitable
		// peers for placement" before).
		for _, s := range srvs {
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(srvs) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no JetStream meta leader with every peer in 30 s")
		}
		time.Sleep(50 * time.Millisecond) // polls the election
	}
}

// waitInterest waits until the cluster routes subject (interest crosses
// routes asynchronously).
func waitInterest(t *testing.T, nc *nats.Conn, subject string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := nc.Request(subject, []byte("probe"), 200*time.Millisecond)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no responder on %s: %v", subject, err)
		}
	}
}
