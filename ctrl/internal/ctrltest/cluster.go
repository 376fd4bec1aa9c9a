package ctrltest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xccrtc/ctrl/natsd"
)

// Cluster is an in-process NATS cluster with JetStream, as a deployment
// that outgrew one machine runs it: each member on its own client and route
// ports with its own store, so that a member can be killed and restarted
// and rejoin with what it had.
type Cluster struct {
	t       testing.TB
	dir     string
	opts    []natsd.Options
	Servers []*natsd.Server // nil for a member that is down
}

// StartCluster starts an n-member cluster that the env stops after its
// XCtrl instances and nodes.
func (e *Env) StartCluster(n int) *Cluster { return e.StartClusterOf(n, n) }

// StartClusterOf configures an n-member cluster and starts its first up
// members, as a cluster booting one member at a time is before the last
// arrives (its JetStream not ready); Start brings the others.
func (e *Env) StartClusterOf(n, up int) *Cluster {
	e.T.Helper()
	c := NewCluster(e.Ctx, e.T, n, up)
	e.clusters = append(e.clusters, c)
	return c
}

// NewCluster configures n members and starts the first up; with all of
// them up it waits until JetStream is ready (with fewer, JetStream waits
// for the others). Close stops it.
func NewCluster(ctx context.Context, t testing.TB, n, up int) *Cluster {
	t.Helper()
	// Not t.TempDir: its clean-up would run before the env stops the
	// members that write there. Close removes it.
	dir, err := os.MkdirTemp("", "xrtc-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, dir: dir}
	routes := make([]string, n)
	clients := make([]string, n)
	routeAddrs := make([]string, n)
	for i := range n {
		clients[i], routeAddrs[i] = freeAddr(t), freeAddr(t)
		routes[i] = "nats-route://" + routeAddrs[i]
	}
	for i := range n {
		c.opts = append(c.opts, natsd.Options{Listen: clients[i], StoreDir: filepath.Join(dir, fmt.Sprint(i)),
			ServerName: fmt.Sprintf("n%d", i), Cluster: &natsd.ClusterOptions{Name: "xrtc-test", Listen: routeAddrs[i], Routes: routes}})
	}
	c.Servers = make([]*natsd.Server, n)
	for i := range up {
		c.Start(ctx, i)
	}
	if up < n {
		return c
	}
	for _, s := range c.Servers {
		if err := s.WaitJetStream(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Close stops every member and removes their stores.
func (c *Cluster) Close() {
	for i := range c.Servers {
		c.Kill(i)
	}
	_ = os.RemoveAll(c.dir)
}

// URLs are the members' client URLs (a client given all of them fails over).
func (c *Cluster) URLs() []string {
	out := make([]string, len(c.opts))
	for i, o := range c.opts {
		out[i] = "nats://" + o.Listen
	}
	return out
}

// URL is the comma-joined URLs.
func (c *Cluster) URL() string { return strings.Join(c.URLs(), ",") }

// Start (re)starts member i with its store.
func (c *Cluster) Start(ctx context.Context, i int) {
	c.t.Helper()
	s, err := natsd.Start(ctx, c.opts[i])
	if err != nil {
		c.t.Fatalf("cluster member %d: %v", i, err)
	}
	c.Servers[i] = s
}

// Kill stops member i at once.
func (c *Cluster) Kill(i int) {
	if c.Servers[i] != nil {
		c.Servers[i].Close()
		c.Servers[i] = nil
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
