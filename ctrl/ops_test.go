package ctrl_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/natsauth"
	"xccrtc/verto"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func scrape(t *testing.T, s *ctrl.Server) string {
	t.Helper()
	code, body := get(t, "http://"+s.MetricsAddr()+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	return body
}

func TestMetricsAndHealth(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	e.StartNode(fakenode.Options{UUID: "n1", AutoAnswer: true})
	c := e.Login(x, "1000")
	c.Reply(c.Invite("m-1", "9196", nil))
	c.ExpectCall(verto.MethodAnswer, "m-1")
	e.Dial(x).Call(verto.MethodLogin, map[string]any{"login": "1000@" + ctrltest.Domain, "passwd": "bad"})
	body := scrape(t, x)
	for _, want := range []string{
		`xctrl_sockets{state="open"} 2`,
		`xctrl_sockets{state="logged_in"} 1`,
		`xctrl_logins_total{result="ok"} 1`,
		`xctrl_logins_total{result="failed"} 1`,
		`xctrl_calls{state="answered"} 1`,
		`xctrl_relayed_total{direction="to_node",method="verto.invite"} 1`,
		`xctrl_relayed_total{direction="to_client",method="verto.answer"} 1`,
		`xctrl_relay_seconds_count 1`,
		`xctrl_nodes_alive 1`,
		"# TYPE xctrl_relay_seconds histogram",
		"go_memstats_heap_inuse_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if code, body := get(t, "http://"+x.MetricsAddr()+"/healthz"); code != http.StatusOK || !strings.Contains(body, x.CtrlUUID()) {
		t.Fatalf("healthz %d %s", code, body)
	}
	if code, _ := get(t, "http://"+x.WSAddr()+"/"); code != http.StatusUpgradeRequired {
		t.Fatalf("plain GET on the ws port: %d", code)
	}
}

func TestKeepalive(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Timers.Ping = 100 * time.Millisecond
		c.Timers.LoginTimeout = 300 * time.Millisecond
	})
	c := e.Login(x, "1000")
	p := c.Expect(verto.MethodPing)
	var pp verto.PingParams
	if err := ctrltest.Decode(p, &pp); err != nil || pp.Serno == 0 {
		t.Fatalf("ping %s", p.Params)
	}
	// A socket that never logs in is closed.
	lurker := e.Dial(x)
	if code := lurker.Closed(); code != websocket.ClosePolicyViolation {
		t.Fatalf("lurker closed with %d", code)
	}
}

// A logged-in socket whose peer vanished (nothing comes back, not even the
// pong to a WebSocket ping) is closed after Timers.PeerTimeout, and its
// user is no longer registered. A quiet peer that answers the pings by
// itself, as browsers do, stays.
func TestSilentPeerIsClosed(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.Timers.Ping = 100 * time.Millisecond
		c.Timers.PeerTimeout = time.Second
	})
	quiet := e.Login(x, "1000") // reads: gorilla answers pings itself
	pings := make(chan struct{}, 64)
	gone, _, err := websocket.DefaultDialer.Dial(x.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gone.Close()
	gone.SetPingHandler(func(string) error { pings <- struct{}{}; return nil }) // seen, never answered
	login := `{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"1001@` + ctrltest.Domain + `","passwd":"` +
		ctrltest.Password + `","sessid":"sess-vanishes"}}`
	if err := gone.WriteMessage(websocket.TextMessage, []byte(login)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := gone.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"id":1`) {
			break
		}
	}
	if err := x.WaitSockets(e.Ctx, func(open, in int) bool { return in == 2 }); err != nil {
		t.Fatal(err)
	}
	// From here the peer reads nothing and sends nothing: vanished. One
	// read in the background only to see the pings come, and the close.
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := gone.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	if err := x.WaitSockets(e.Ctx, func(open, in int) bool { return in == 1 }); err != nil {
		t.Fatalf("the silent socket is still logged in: %v", err)
	}
	if len(pings) == 0 {
		t.Error("no WebSocket ping reached the silent peer before it was closed")
	}
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("silent peer closed with %v, want 1001", err)
	}
	if got := counterValue(t, x, "xctrl_silent_peers_closed_total"); got != 1 {
		t.Errorf("xctrl_silent_peers_closed_total = %v", got)
	}
	// The quiet peer answered every ping: still there, past the timeout.
	time.Sleep(1500 * time.Millisecond) // long enough for it to be closed, were it silent
	if r := quiet.Call("verto.ping", map[string]any{}); r.Error != nil {
		t.Fatalf("the quiet peer that answers pings: %+v", r.Error)
	}
	if _, in := x.Sockets(); in != 1 {
		t.Fatalf("logged in: %d, want the quiet peer", in)
	}
}

func TestShutdownDrains(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	y := e.StartCtrl(nil)
	n := e.StartNode(fakenode.Options{UUID: "n1", AutoAnswer: true})
	c := e.Login(x, "1000")
	c.Reply(c.Invite("survivor", "9196", nil))
	c.ExpectCall(verto.MethodAnswer, "survivor")
	e.WaitBooked(c.Sessid, "n1")
	ctx, cancel := context.WithTimeout(e.Ctx, 5*time.Second)
	defer cancel()
	if err := x.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := c.Closed(); code != websocket.CloseGoingAway {
		t.Fatalf("closed with %d, want 1001", code)
	}
	// The call is still up on the node, detached, and comes back on y.
	if _, err := n.Wait(e.Ctx, verto.MethodXrtcDetach, nil); err != nil {
		t.Fatal(err)
	}
	if call, ok := n.Call("survivor"); !ok || !call.Detached {
		t.Fatalf("call after drain: %+v %v", call, ok)
	}
	again := e.DialSessid(y, c.Sessid)
	_, ready := again.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	if !strings.Contains(string(ready.Params), "survivor") {
		t.Fatalf("clientReady %s", ready.Params)
	}
	if _, err := ctrltest.Dial(e.Ctx, x.WSURL()); err == nil {
		t.Fatal("a drained instance accepted a socket")
	}
}

// A stopping instance takes its sockets out of the registry before it
// leaves the bus: the deletes of many sockets closing together are batched
// in the background, and Shutdown waits for them. Nothing of it is left
// for calls to those users to find.
func TestShutdownUnregisters(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	const perUser = 15
	users := []string{"1000", "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009"}
	for _, u := range users {
		for range perUser {
			e.Login(x, u)
		}
	}
	nc, err := nats.Connect(e.NATS.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	reg, err := ctrl.NewKVRegistry(e.Ctx, nc, ctrl.KVOptions{Bucket: "xrtc_registry", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		for _, u := range users {
			got, err := reg.Lookup(e.Ctx, u+"@"+ctrltest.Domain)
			if err != nil {
				t.Fatal(err)
			}
			n += len(got)
		}
		return n
	}
	if n := count(); n != perUser*len(users) {
		t.Fatalf("%d sockets registered, want %d", n, perUser*len(users))
	}
	ctx, cancel := context.WithTimeout(e.Ctx, 10*time.Second)
	defer cancel()
	if err := x.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d sockets still registered after the shutdown", n)
	}
}

func TestEmbeddedDefault(t *testing.T) {
	// No NATS URL: XCtrl starts its own NATS (JetStream on) and a second
	// instance and a node join it over TCP.
	base := ctrltest.Goroutines()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tokenFile := filepath.Join(t.TempDir(), "nats.token")
	x, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", NATSListen: "127.0.0.1:-1", NATSStoreDir: t.TempDir(), NATSTokenFile: tokenFile},
		ctrl.Deps{Users: ctrltest.DefaultUsers(), Logger: ctrltest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The embedded server requires a token: in the URL for library users,
	// in a file only its owner reads for the nodes of this machine.
	url := x.NATSURL()
	tok, err := natsauth.ReadToken(tokenFile)
	if err != nil || len(tok) < 32 || url != strings.Replace(x.NATSURLRedacted(), "://", "://"+tok+"@", 1) {
		t.Fatalf("NATS URL %q, token %q (%v), redacted %q", url, tok, err, x.NATSURLRedacted())
	}
	if st, err := os.Stat(tokenFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	anon, err := nats.Connect(x.NATSURLRedacted(), nats.MaxReconnects(0))
	if err == nil {
		anon.Close()
		t.Fatal("a client without the token joined the embedded NATS")
	}
	y, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", NATSURLs: []string{url}}, ctrl.Deps{Users: ctrltest.DefaultUsers(), Logger: ctrltest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := fakenode.Start(ctx, fakenode.Options{URL: url, UUID: "emb"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ctrltest.Dial(ctx, y.WSURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Login(ctx, "1000@"+ctrltest.Domain, ctrltest.Password, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := n.Originate(ctx, "", "1000@"+ctrltest.Domain, "emb-call")
	if err != nil || rep.Error != nil {
		t.Fatalf("%v %+v", err, rep)
	}
	if _, err := c.ExpectCall(ctx, verto.MethodInvite, "emb-call"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	n.Kill()
	_ = y.Shutdown(ctx)
	_ = x.Shutdown(ctx)
	ctrltest.CheckLeaks(t, base)
}
