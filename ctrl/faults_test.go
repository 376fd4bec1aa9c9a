package ctrl_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/ctrl/natsd"
	"xccrtc/natsauth"
	"xccrtc/verto"
)

// healthy waits until /healthz answers 200.
func healthy(t *testing.T, e *ctrltest.Env, x *ctrl.Server) {
	t.Helper()
	url := "http://" + x.MetricsAddr() + "/healthz"
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-e.Ctx.Done():
			t.Fatalf("/healthz never came back to 200 (last: %v %v)", resp, err)
		case <-time.After(20 * time.Millisecond): // polling an HTTP endpoint
		}
	}
}

// ringsUser has the node call login and checks that the invite reaches c.
func ringsUser(t *testing.T, e *ctrltest.Env, n *fakenode.Node, subject string, c *ctrltest.Browser, callID string) {
	t.Helper()
	for {
		rep, err := n.Originate(e.Ctx, subject, "1000@"+ctrltest.Domain, callID)
		if err == nil && rep.Error == nil {
			break
		}
		if e.Ctx.Err() != nil {
			t.Fatalf("call to a logged-in user: %v %+v", err, rep)
		}
		// Not yet converged: the node's own reconnect, or the registry.
		time.Sleep(20 * time.Millisecond) // retrying a request, as a node's dialplan would
		callID += "+"
	}
	c.ExpectCall(verto.MethodInvite, callID)
}

// nats.go closes a connection for good when the server sends some errors
// (here: a control line over 4,096 bytes). XCtrl dials a new one,
// subscribes again and re-publishes its sockets: logins, calls out and
// calls to users keep working (found by trying: it stayed off the bus,
// /healthz 503, every call NO NODE AVAILABLE).
func TestConnectionClosedForGoodIsReplaced(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1", UpdateEvery: 100 * time.Millisecond})
	c := e.Login(x, "1000")
	old := x.NATSConn()
	closed := make(chan struct{})
	old.SetClosedHandler(func(*nats.Conn) { close(closed) }) // the bus's own handler is replaced: call it too
	_ = old.Publish(strings.Repeat("x", 5000), nil)
	select {
	case <-closed:
	case <-e.Ctx.Done():
		t.Fatal("the server did not close the connection")
	}
	// The test replaced the bus's closed handler: kick the bus as nats.go
	// would have.
	ctrl.NotifyClosed(x, old)
	healthy(t, e, x)
	if x.NATSConn() == old {
		t.Fatal("still on the closed connection")
	}
	callWorks(t, e, c, "after-close")
	ringsUser(t, e, n, "", c, "to-1000")
	e.Login(x, "1001")
}

// A restarted NATS server lost the registry bucket (found by trying:
// nothing re-created it; calls to logged-in users failed
// USER_NOT_REGISTERED while /healthz said 200). XCtrl re-creates the bucket
// and re-publishes its sockets as soon as it is back.
func TestNATSRestartRecreatesRegistry(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1", UpdateEvery: 100 * time.Millisecond})
	var users []*ctrltest.Browser
	for i := 0; i < 5; i++ {
		users = append(users, e.Login(x, fmt.Sprint(1000+i)))
	}
	rx, ry := x.NATSConn().Stats().Reconnects, y.NATSConn().Stats().Reconnects
	e.RestartNATS()
	// Both noticed and reconnected before their health means anything.
	waitFor(t, e, func() bool {
		return x.NATSConn().Stats().Reconnects > rx && y.NATSConn().Stats().Reconnects > ry
	})
	healthy(t, e, x)
	healthy(t, e, y)
	// Every user logged in on x is found through y (the registry).
	for i, c := range users {
		id := fmt.Sprintf("after-restart-%d", i)
		rep := originateVia(t, e, n, "cn.xswitch.ctrl."+y.CtrlUUID(), fmt.Sprintf("%d@%s", 1000+i, ctrltest.Domain), id)
		if rep.Error != nil {
			t.Fatalf("user %d after a NATS restart: %+v", 1000+i, rep.Error)
		}
		c.ExpectCall(verto.MethodInvite, id)
	}
}

// originateVia retries until the node is back on the bus.
func originateVia(t *testing.T, e *ctrltest.Env, n *fakenode.Node, subject, login, callID string) *verto.Message {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(e.Ctx, time.Second)
		rep, err := n.Originate(ctx, subject, login, callID)
		cancel()
		if err == nil {
			return rep
		}
		if e.Ctx.Err() != nil {
			t.Fatalf("originate %s: %v", login, err)
		}
	}
}

// A node that dies (its subscriptions gone: SIGKILL) stops getting calls at
// once: an invite that finds no responders is tried on the other node, and
// the dead node is suspect from then on, long before its 45 s of silence
// (found by trying: calls hashed to it failed NO NODE AVAILABLE for 43 s).
func TestDeadNodeStopsGettingCallsAtOnce(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.Timers.NodeExpiry = time.Minute; c.Timers.NodeProbe = time.Hour })
	e.StartNode(fakenode.Options{UUID: "alive"})
	victim := e.StartNode(fakenode.Options{UUID: "victim"})
	victim.Kill()
	c := e.Login(x, "1000")
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("c%d", i)
		rid := c.Invite(id, fmt.Sprintf("dest%d", i), nil)
		r := c.Reply(rid)
		if r.Error != nil || ctrltest.Param(r, "message") != "CALL CREATED" {
			t.Fatalf("call %d to dest%d: %+v", i, i, r.Error)
		}
		if ctrltest.Param(r, "node_uuid") != "alive" {
			t.Fatalf("call %d created on %s", i, ctrltest.Param(r, "node_uuid"))
		}
	}
}

// The probe finds a dead node without a call having to fail first, and a
// node that comes back is chosen again.
func TestProbeFindsDeadNode(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Timers.NodeExpiry = time.Minute
		c.Timers.NodeProbe = 20 * time.Millisecond
		c.Timers.NodeDead = time.Hour
	})
	e.StartNode(fakenode.Options{UUID: "alive"})
	victim := e.StartNode(fakenode.Options{UUID: "victim"})
	victim.Kill()
	waitFor(t, e, func() bool { return x.Suspects() == "victim" })
	e.StartNode(fakenode.Options{UUID: "victim"})
	waitFor(t, e, func() bool { return x.Suspects() == "" })
}

// NodeDead of no responders without a break: the node is dead and its
// calls end.
func TestNodeWithNoRespondersDies(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Timers.NodeExpiry = time.Minute
		c.Timers.NodeProbe = 20 * time.Millisecond
		c.Timers.NodeDead = 200 * time.Millisecond
	})
	victim := e.StartNode(fakenode.Options{UUID: "victim"})
	c := e.Login(x, "1000")
	c.Reply(c.Invite("doomed", "7000", nil))
	victim.Kill()
	bye := c.ExpectCall(verto.MethodBye, "doomed")
	if ctrltest.Param(bye, "cause") != verto.CauseNetworkOutOfOrder.String() {
		t.Fatalf("bye %s", bye.Params)
	}
}

func waitFor(t *testing.T, e *ctrltest.Env, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-e.Ctx.Done():
			t.Fatal("condition never held")
		case <-time.After(10 * time.Millisecond): // polling a state with no event to wait on
		}
	}
}

// XCtrl off the bus (its link to NATS cut, the nodes fine) expires no node
// and ends no call, however long it lasts (found by trying: after 55 s it
// sent verto.bye NETWORK_OUT_OF_ORDER for calls whose media was fine). Back
// on the bus it reconciles: a call the node ended meanwhile (its bye lost)
// gets verto.bye; a call the node detached is offered again (verto.attach).
func TestOffTheBusEndsNoCallAndReconciles(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	proxy := ctrltest.NewProxy(t, strings.TrimPrefix(e.NATS.ClientURL(), "nats://"))
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.NATSURLs = []string{proxy.URL()}
		c.Timers.NodeExpiry = 200 * time.Millisecond
		c.Timers.NodeProbe = 20 * time.Millisecond
		c.Timers.NodeDead = 100 * time.Millisecond
	})
	n := e.StartNode(fakenode.Options{UUID: "n1", UpdateEvery: 50 * time.Millisecond})
	c := e.Login(x, "1000")
	for _, id := range []string{"kept", "ended", "detached"} {
		if r := c.Reply(c.Invite(id, "7000-"+id, nil)); r.Error != nil {
			t.Fatalf("invite %s: %+v", id, r.Error)
		}
		if !n.Answer(id) {
			t.Fatalf("the node does not have call %s", id)
		}
		c.ExpectCall(verto.MethodAnswer, id)
	}
	proxy.Cut()
	waitFor(t, e, func() bool { return !x.OnBus() })
	// Several expiry periods and NodeDead periods go by off the bus.
	time.Sleep(600 * time.Millisecond) // nothing to wait for: the point is that nothing happens
	n.Drop("ended")
	n.Detach("detached")
	if c.Has(func(m *verto.Message) bool { return m.Method == verto.MethodBye }) {
		t.Fatal("a call ended while XCtrl was off the bus")
	}
	if x.Calls() != 3 {
		t.Fatalf("%d calls mapped off the bus, want 3", x.Calls())
	}
	proxy.Restore()
	bye := c.ExpectCall(verto.MethodBye, "ended")
	if ctrltest.Param(bye, "node_uuid") != "n1" {
		t.Fatalf("bye %s", bye.Params)
	}
	c.ExpectCall(verto.MethodAttach, "detached")
	if c.Has(func(m *verto.Message) bool {
		return m.Method == verto.MethodBye && ctrltest.Param(m, "callID") == "kept"
	}) {
		t.Fatal("the call that was fine got a bye")
	}
	if len(x.Nodes()) != 1 {
		t.Fatalf("nodes after the outage: %v", x.Nodes())
	}
}

// XCtrl joins a NATS that requires credentials with the ones it is given,
// and refuses to start, saying why, without them.
func TestJoinNATSWithCredentials(t *testing.T) {
	base := ctrltest.Goroutines()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1", Token: "s3cret-token"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ctrl.Config{WSListen: "127.0.0.1:0", NATSURLs: []string{ns.ClientURL()}}
	x, err := ctrl.New(cfg, ctrl.Deps{Users: ctrltest.DefaultUsers(), Logger: ctrltest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx); err == nil || !strings.Contains(err.Error(), "nats") {
		t.Fatalf("started without credentials: %v", err)
	}
	cfg.NATSAuth = natsauth.Auth{Token: "s3cret-token"}
	y, err := ctrl.New(cfg, ctrl.Deps{Users: ctrltest.DefaultUsers(), Logger: ctrltest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Start(ctx); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	_ = y.Shutdown(ctx)
	ns.Close()
	ctrltest.CheckLeaks(t, base)
}

// A login asks only the nodes that hold calls of its sessid (the call book
// in NATS), never every node: a sessid with no call reaches no node, and a
// reload reaches the one node of its call, from any instance.
func TestLoginReachesOnlyTheNodesOfItsCalls(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	nodes := []*fakenode.Node{e.StartNode(fakenode.Options{UUID: "a"}), e.StartNode(fakenode.Options{UUID: "b"}), e.StartNode(fakenode.Options{UUID: "c"})}
	idle := e.Login(x, "1001")
	idle.Close()
	for _, n := range nodes {
		if n.Seen(verto.MethodXrtcLogin) || n.Seen(verto.MethodXrtcDetach) {
			t.Fatalf("node %s heard of a socket with no call", n.UUID())
		}
	}
	c := e.Login(x, "1000")
	c.Reply(c.Invite("kept", "7000", nil))
	var home *fakenode.Node
	for _, n := range nodes {
		if _, ok := n.Call("kept"); ok {
			home = n
		}
	}
	home.Answer("kept")
	c.ExpectCall(verto.MethodAnswer, "kept")
	e.WaitBooked(c.Sessid, home.UUID())
	// The page reloads onto the other instance with the same sessid.
	c.Close()
	again := e.DialSessid(y, c.Sessid)
	again.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	again.ExpectCall(verto.MethodAttach, "kept")
	for _, n := range nodes {
		if n != home && n.Seen(verto.MethodXrtcLogin) {
			t.Fatalf("node %s without calls of the sessid got xrtc.login", n.UUID())
		}
	}
}

// XCtrl started before its NATS (a machine that boots XCtrl first, a
// cluster still coming up after a power cut) waits for it within the start
// deadline instead of exiting: systemd's start limit would otherwise give
// up on it after five quick failures and leave it down for good.
func TestStartsBeforeItsNATS(t *testing.T) {
	base := ctrltest.Goroutines()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	x, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", NATSURLs: []string{"nats://" + addr}},
		ctrl.Deps{Users: ctrltest.DefaultUsers(), Logger: ctrltest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- x.Start(ctx) }()
	select {
	case err := <-started:
		t.Fatalf("XCtrl did not wait for its NATS: %v", err)
	case <-time.After(time.Second): // NATS boots a second after XCtrl
	}
	ns, err := natsd.Start(ctx, natsd.Options{Listen: addr, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := <-started; err != nil {
		t.Fatalf("XCtrl with its NATS up a second late: %v", err)
	}
	c, err := ctrltest.Dial(ctx, x.WSURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Login(ctx, "1000@"+ctrltest.Domain, ctrltest.Password, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	_ = x.Shutdown(ctx)
	ns.Close()
	ctrltest.CheckLeaks(t, base)
}
