package ctrl_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
)

// refused is xctrl_sockets_refused_total{reason}.
func refused(t *testing.T, x *ctrl.Server, reason string) float64 {
	t.Helper()
	return counterValue(t, x, "xctrl_sockets_refused_total", "reason", reason)
}

// counterValue is the counter (or gauge) name of x's metrics, with the
// label pair (name, value) when given.
func counterValue(t *testing.T, x *ctrl.Server, name string, label ...string) float64 {
	t.Helper()
	mfs, err := x.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	value := func(m *dto.Metric) float64 {
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(label) == 0 {
				return value(m)
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == label[0] && l.GetValue() == label[1] {
					return value(m)
				}
			}
		}
	}
	t.Fatalf("no metric %s %v", name, label)
	return 0
}

// dialFrom opens a socket from ip that the env closes; nil when XCtrl
// refused it.
func dialFrom(e *ctrltest.Env, x *ctrl.Server, ip string) *ctrltest.Browser {
	c, err := ctrltest.DialFrom(e.Ctx, x.WSURL(), ip)
	if err != nil {
		return nil
	}
	return e.Adopt(c)
}

// eventuallyDial dials from ip until XCtrl takes the socket: a slot given
// back by a close is seen once XCtrl has noticed the close.
func eventuallyDial(t *testing.T, e *ctrltest.Env, x *ctrl.Server, ip string) *ctrltest.Browser {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b := dialFrom(e, x, ip); b != nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket from %s taken after a slot was given back", ip)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// One address cannot hold more than Limits.MaxPreLoginPerAddr sockets that
// have not logged in: found by trying, a client holding sockets without
// logging in took every file descriptor of XCtrl (no other client could
// connect, /healthz stopped answering). Other addresses are not affected,
// logged-in sockets do not count, and a login or a close gives the slot
// back.
func TestPreLoginSocketsPerAddress(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.Limits.MaxPreLoginPerAddr = 3 })
	var held []*ctrltest.Browser
	for i := 0; i < 3; i++ {
		b := dialFrom(e, x, "127.0.0.1")
		if b == nil {
			t.Fatalf("socket %d of 3 from one address refused", i+1)
		}
		held = append(held, b)
	}
	if dialFrom(e, x, "127.0.0.1") != nil {
		t.Fatal("a 4th socket not logged in from one address was taken (bound 3)")
	}
	if got := refused(t, x, "address"); got != 1 {
		t.Errorf("refused{address} = %v, want 1", got)
	}
	// Another address connects and logs in.
	other := dialFrom(e, x, "127.0.0.2")
	if other == nil {
		t.Fatal("a socket from another address was refused")
	}
	other.Login("1001@"+ctrltest.Domain, ctrltest.Password, nil)

	// A login gives its slot back at once: the reply comes after it.
	held[0].Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	next := dialFrom(e, x, "127.0.0.1")
	if next == nil {
		t.Fatal("after a login, a new socket from the address was refused")
	}
	if dialFrom(e, x, "127.0.0.1") != nil {
		t.Fatal("the bound no longer holds after a login")
	}
	// A close gives it back once XCtrl has seen it.
	held[1].Client.Close()
	eventuallyDial(t, e, x, "127.0.0.1")
	// The logged-in socket still works.
	if r := held[0].Call("verto.ping", map[string]any{}); r.Error != nil {
		t.Fatalf("ping on the logged-in socket: %+v", r.Error)
	}
	if _, in := x.Sockets(); in != 2 {
		t.Errorf("logged in: %d, want 2", in)
	}
}

// Past Limits.MaxSockets a new connection is closed as it comes, whatever
// its address; the metrics listener, outside the bound, still answers; a
// close makes room.
func TestSocketLimit(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) { c.Limits.MaxSockets = 3 })
	a := dialFrom(e, x, "127.0.0.1")
	b := dialFrom(e, x, "127.0.0.2")
	c := dialFrom(e, x, "127.0.0.3")
	if a == nil || b == nil || c == nil {
		t.Fatal("a socket under the bound was refused")
	}
	a.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	if dialFrom(e, x, "127.0.0.4") != nil {
		t.Fatal("a 4th socket was taken (bound 3)")
	}
	if got := refused(t, x, "capacity"); got != 1 {
		t.Errorf("refused{capacity} = %v, want 1", got)
	}
	resp, err := http.Get("http://" + x.MetricsAddr() + "/healthz")
	if err != nil {
		t.Fatalf("healthz at the socket limit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz at the socket limit: %d", resp.StatusCode)
	}
	c.Client.Close()
	eventuallyDial(t, e, x, "127.0.0.4")
	if r := a.Call("verto.ping", map[string]any{}); r.Error != nil {
		t.Fatalf("ping on a socket held at the limit: %+v", r.Error)
	}
}

// Behind a trusted proxy the forwarded address counts, not the proxy's.
func TestPreLoginSocketsPerForwardedAddress(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.TrustedProxies = []string{"127.0.0.1"}
		c.Limits.MaxPreLoginPerAddr = 2
	})
	dial := func(xff string) *ctrltest.Browser {
		c, err := ctrltest.DialHeader(e.Ctx, x.WSURL(), map[string]string{"X-Forwarded-For": xff})
		if err != nil {
			t.Fatalf("dial through the proxy for %s: %v", xff, err)
		}
		return e.Adopt(c)
	}
	// The server takes a socket's slot after the handshake, before it reads
	// the socket: one that answered holds its slot, and the third is the
	// one over the bound (without the wait, any of the three could be).
	for range 2 {
		dial("198.51.100.7").Call("verto.ping", map[string]any{})
	}
	third := dial("198.51.100.7")
	if code := third.Closed(); code != 1008 {
		t.Fatalf("3rd socket for one forwarded address: close code %d, want 1008", code)
	}
	// Another forwarded address, and the proxy itself, are not held to it.
	for _, xff := range []string{"198.51.100.8", "198.51.100.8"} {
		b := dial(xff)
		b.Login("1000@"+ctrltest.Domain, ctrltest.Password, nil)
	}
	for i := 0; i < 3; i++ {
		if dialFrom(e, x, "127.0.0.1") == nil {
			t.Fatalf("the proxy's own socket %d was refused", i+1)
		}
	}
	if got := refused(t, x, "address"); got != 1 {
		t.Errorf("refused{address} = %v, want 1", got)
	}
}

func TestSocketCaps(t *testing.T) {
	for _, c := range []struct {
		configured int
		nofile     uint64
		want       int
	}{
		{0, 20000, 20000 - 1024},
		{0, 65536, 65536 - 1024},
		{0, 4096, 4096 - 512},
		{0, 1024, 1024 - 128},
		{0, 300, 300 - 64},
		{0, 50, 1},
		{0, 1 << 40, 1<<24 - 1024},
		{500, 20000, 500},
	} {
		if got := ctrl.SocketCap(c.configured, c.nofile); got != c.want {
			t.Errorf("SocketCap(%d, %d) = %d, want %d", c.configured, c.nofile, got, c.want)
		}
	}
	for _, c := range []struct{ configured, sockets, want int }{
		{0, 18976, 256}, {0, 236, 59}, {0, 2, 1}, {10, 18976, 10}, {1000, 3, 1000},
	} {
		if got := ctrl.PreLoginCap(c.configured, c.sockets); got != c.want {
			t.Errorf("PreLoginCap(%d, %d) = %d, want %d", c.configured, c.sockets, got, c.want)
		}
	}
}

func TestAddrKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::"},
	} {
		got, ok := ctrl.AddrKey(netip.MustParseAddr(c.in))
		if !ok || got.String() != c.want {
			t.Errorf("AddrKey(%s) = %s %v, want %s", c.in, got, ok, c.want)
		}
	}
	if _, ok := ctrl.AddrKey(netip.Addr{}); ok {
		t.Error("AddrKey of no address is a key")
	}
}

// lowFilesEnv, set to a number, makes the test binary an XCtrl (embedded
// NATS, default limits) whose process may open that many files: it prints
// "<ws url> <metrics addr>" and runs until stdin ends.
const lowFilesEnv = "XCTRL_TEST_SERVE_NOFILE"

func serveWithFewFiles(n string) int {
	lim, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return 2
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
		fmt.Println("error", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "xctrl-nofile-")
	if err != nil {
		return 1
	}
	defer os.RemoveAll(dir)
	x, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", NATSListen: "127.0.0.1:-1",
		NATSStoreDir: dir}, ctrl.Deps{Users: ctrltest.DefaultUsers(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.Start(ctx); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println(x.WSURL(), x.MetricsAddr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = x.Shutdown(ctx)
	return 0
}

// One client opening sockets without logging in, as many as it can, must
// not lock other clients out or silence /healthz (found by trying: with 300
// files, XCtrl accepted until accept failed with EMFILE; another address's
// handshake then timed out and /healthz did not answer). The XCtrl runs in
// a child process with a 300-file limit and default limits.
func TestFileDescriptorFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an XCtrl process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel) // after the child is waited for (cleanups run last first)
	line, _ := startChild(t, ctx, lowFilesEnv+"=300")
	var wsURL, metrics string
	if _, err := fmt.Sscan(line, &wsURL, &metrics); err != nil || !strings.HasPrefix(wsURL, "ws://") {
		t.Fatalf("XCtrl child said %q", line)
	}
	// The flood: 400 sockets from one address, none logs in.
	var flood []*ctrltest.Client
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for i := 0; i < 400; i++ {
		if c, err := ctrltest.DialFrom(ctx, wsURL, "127.0.0.1"); err == nil {
			flood = append(flood, c)
		}
	}
	if len(flood) == 0 || len(flood) >= 300 {
		t.Fatalf("the flood holds %d sockets", len(flood))
	}
	// Another client connects and logs in.
	c, err := ctrltest.DialFrom(ctx, wsURL, "127.0.0.2")
	if err != nil {
		t.Fatalf("another client during the flood (%d sockets held): %v", len(flood), err)
	}
	defer c.Close()
	if _, _, err := c.Login(ctx, "1000@"+ctrltest.Domain, ctrltest.Password, nil); err != nil {
		t.Fatalf("login during the flood: %v", err)
	}
	hc := http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + metrics + "/healthz")
	if err != nil {
		t.Fatalf("healthz during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz during the flood: %d", resp.StatusCode)
	}
}
