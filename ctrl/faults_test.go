package ctrl_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
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
	e.RestartNATS()
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
