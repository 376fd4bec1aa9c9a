// Package stack starts a whole xcc-rtc system in one process, on 127.0.0.1
// with free ports and no external service: an embedded NATS server (with
// JetStream, for XCtrl's user registry), N XCtrl instances and M nodes. The
// nodes are module/testhost, the xrtc endpoint on a switch written in Go with
// pion media: a test host, not FreeSWITCH.
//
// The end-to-end tests (tools/e2e) and the demo (tools/xrtc-demo) use it.
//
//	st, err := stack.Start(ctx, stack.Options{Ctrls: 2, Nodes: 1})
//	defer st.Close(context.Background())
//	c, err := client.Dial(ctx, client.Options{URL: st.WSURL(0), Login: stack.User(1000), Passwd: stack.Password,
//		Settings: client.LoopbackSettings()})
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/natsd"
	"xccrtc/module/testhost"
	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// The built-in users are those of testdata/conf/directory.xml: 1000-1019 in
// Domain with Password.
const (
	Domain    = "xswitch.cn"
	Password  = "1234"
	FirstUser = 1000
	LastUser  = 1019
)

// User is the login of user n ("1000@xswitch.cn").
func User(n int) string { return fmt.Sprintf("%d@%s", n, Domain) }

// Options configure Start. The zero value is one XCtrl and one node.
type Options struct {
	// Ctrls is the number of XCtrl instances (default 1).
	Ctrls int
	// Nodes is the number of test-host nodes (default 1; -1 for none).
	Nodes int

	// NATSListen is the embedded NATS client address ("" = a free port on
	// 127.0.0.1).
	NATSListen string
	// WSListen is the WebSocket address of each XCtrl, by index; missing
	// or "" = a free port on 127.0.0.1.
	WSListen []string
	// Metrics gives every XCtrl a /metrics listener on a free port.
	Metrics bool

	// DirectoryFile is a FreeSWITCH directory for password logins; "" uses
	// the built-in users (those of testdata/conf/directory.xml, 1000-1019,
	// password 1234) plus ExtraUsers.
	DirectoryFile string
	// ExtraUsers adds users to the built-in store: "load0".."load<n-1>"
	// with Password (load tests log in one user per call).
	ExtraUsers int

	// Ctrl edits XCtrl i's configuration before it starts.
	Ctrl func(i int, c *ctrl.Config)
	// Node edits node i's xrtc configuration (testhost.DefaultConfig()).
	Node func(i int, c *xrtc.Config)
	// NodeOptions edits node i's endpoint options (timers).
	NodeOptions func(i int, o *xrtc.Options)

	// Log receives every part's logs (nil: only XCtrl's warnings and
	// errors, to stderr).
	Log *slog.Logger
}

// Stack is a running system. Its fields are the parts, for tests to reach
// into; Close stops them all.
type Stack struct {
	NATS  *natsd.Server
	Ctrls []*ctrl.Server
	Nodes []*testhost.Node

	opts Options
	log  *slog.Logger
}

// Start starts the embedded NATS, the XCtrl instances, then the nodes, and
// returns once every XCtrl sees every node alive (or ctx ends). On error
// whatever started is stopped.
func Start(ctx context.Context, o Options) (st *Stack, err error) {
	if o.Ctrls <= 0 {
		o.Ctrls = 1
	}
	if o.Nodes < 0 {
		o.Nodes = 0
	} else if o.Nodes == 0 {
		o.Nodes = 1
	}
	if o.NATSListen == "" {
		o.NATSListen = "127.0.0.1:-1"
	}
	st = &Stack{opts: o, log: o.Log}
	if st.log == nil {
		st.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = st.Close(cctx)
			st = nil
		}
	}()
	st.NATS, err = natsd.Start(ctx, natsd.Options{Listen: o.NATSListen, ServerName: "xrtc-stack"})
	if err != nil {
		return st, fmt.Errorf("stack: nats: %w", err)
	}
	for i := 0; i < o.Ctrls; i++ {
		if _, err = st.AddCtrl(ctx); err != nil {
			return st, err
		}
	}
	for i := 0; i < o.Nodes; i++ {
		if _, err = st.AddNode(ctx); err != nil {
			return st, err
		}
	}
	return st, nil
}

// NATSURL is the embedded NATS's client URL.
func (st *Stack) NATSURL() string { return st.NATS.ClientURL() }

// WSURL is XCtrl i's ws:// URL.
func (st *Stack) WSURL(i int) string { return st.Ctrls[i].WSURL() }

// Users is the built-in user store (used when Options.DirectoryFile is "").
func Users(extra int) ctrl.MapStore {
	m := ctrl.MapStore{}
	for n := FirstUser; n <= LastUser; n++ {
		m.Add(fmt.Sprint(n), Domain, Password, nil)
	}
	for n := 0; n < extra; n++ {
		m.Add(fmt.Sprintf("load%d", n), Domain, Password, nil)
	}
	return m
}

// AddCtrl starts one more XCtrl instance on the stack's NATS and waits
// until it sees every node. Start starts the XCtrl instances before the
// nodes; an instance added later learns about running nodes only from
// their next heartbeat (20 s, or NodeOptions' HeartbeatInterval): the
// xrtc endpoint does not answer XCtrl's XNode.CtrlStartUp.
func (st *Stack) AddCtrl(ctx context.Context) (*ctrl.Server, error) {
	i := len(st.Ctrls)
	cfg := ctrl.Config{
		CtrlUUID:      fmt.Sprintf("xctrl-%d-%s", i+1, ctrl.NewUUID()[:8]),
		WSListen:      "127.0.0.1:0",
		NATSURLs:      []string{st.NATS.ClientURL()},
		DirectoryFile: st.opts.DirectoryFile,
		DefaultDomain: Domain,
	}
	if i < len(st.opts.WSListen) && st.opts.WSListen[i] != "" {
		cfg.WSListen = st.opts.WSListen[i]
	}
	if st.opts.Metrics {
		cfg.MetricsListen = "127.0.0.1:0"
	}
	if st.opts.Ctrl != nil {
		st.opts.Ctrl(i, &cfg)
	}
	deps := ctrl.Deps{Logger: st.opts.Log}
	if cfg.DirectoryFile == "" {
		deps.Users = Users(st.opts.ExtraUsers)
	}
	s, err := ctrl.New(cfg, deps)
	if err != nil {
		return nil, fmt.Errorf("stack: xctrl %d: %w", i+1, err)
	}
	if err := s.Start(ctx); err != nil {
		return nil, fmt.Errorf("stack: xctrl %d: %w", i+1, err)
	}
	st.Ctrls = append(st.Ctrls, s)
	// A new instance learns about running nodes from their next heartbeat
	// (or their answer to XNode.CtrlStartUp); wait for them.
	if err := st.WaitNodes(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// AddNode starts one more test-host node and waits until every XCtrl sees
// it alive.
func (st *Stack) AddNode(ctx context.Context) (*testhost.Node, error) {
	i := len(st.Nodes)
	cfg := testhost.DefaultConfig()
	if st.opts.Node != nil {
		st.opts.Node(i, &cfg)
	}
	n, err := testhost.Start(ctx, testhost.Options{
		NATSURL:  st.NATS.ClientURL(),
		NodeUUID: fmt.Sprintf("testhost-%d-%s", i+1, ctrl.NewUUID()[:8]),
		Config:   &cfg,
		Domain:   Domain,
		Log:      st.log,
		Endpoint: func(eo *xrtc.Options) {
			if st.opts.NodeOptions != nil {
				st.opts.NodeOptions(i, eo)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("stack: node %d: %w", i+1, err)
	}
	st.Nodes = append(st.Nodes, n)
	if err := st.WaitNodes(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// WaitNodes waits until every XCtrl sees every node of the stack alive.
func (st *Stack) WaitNodes(ctx context.Context) error {
	for _, s := range st.Ctrls {
		err := s.WaitNodes(ctx, func(ns []verto.Node) bool {
			seen := map[string]bool{}
			for _, n := range ns {
				seen[n.UUID] = true
			}
			for _, n := range st.Nodes {
				if !seen[n.Endpoint.NodeUUID()] {
					return false
				}
			}
			return true
		})
		if err != nil {
			return fmt.Errorf("stack: waiting for %d node(s) on %s: %w", len(st.Nodes), s.CtrlUUID(), err)
		}
	}
	return nil
}

// Node returns the node that carries callID (nil if none does).
func (st *Stack) Node(callID string) *testhost.Node {
	for _, n := range st.Nodes {
		if n.Host.Channel(callID) != nil {
			return n
		}
	}
	return nil
}

// Channel returns the test-host channel of callID on any node (nil if none).
func (st *Stack) Channel(callID string) *testhost.Channel {
	for _, n := range st.Nodes {
		if ch := n.Host.Channel(callID); ch != nil {
			return ch
		}
	}
	return nil
}

// Close stops the nodes (their calls end with SYSTEM_SHUTDOWN), then the
// XCtrl instances (drain), then NATS. Close clients first: XCtrl closes the
// sockets still open with 1001 "going away".
func (st *Stack) Close(ctx context.Context) error {
	var errs []error
	for i := len(st.Nodes) - 1; i >= 0; i-- {
		if err := st.Nodes[i].Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", st.Nodes[i].Endpoint.NodeUUID(), err))
		}
	}
	for i := len(st.Ctrls) - 1; i >= 0; i-- {
		if err := st.Ctrls[i].Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("xctrl %s: %w", st.Ctrls[i].CtrlUUID(), err))
		}
	}
	if st.NATS != nil {
		st.NATS.Close()
	}
	st.Nodes, st.Ctrls, st.NATS = nil, nil, nil
	return errors.Join(errs...)
}
