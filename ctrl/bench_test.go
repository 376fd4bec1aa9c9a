package ctrl_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
	"xccrtc/ctrl/internal/fakenode"
	"xccrtc/ctrl/loadgen"
	"xccrtc/verto"
)

// TestMain doubles as the load process of BenchmarkIdleSocketMemory: run
// with XCTRL_LOAD_URL set, the test binary opens the sockets and waits;
// and as the XCtrl of TestFileDescriptorFlood (lowFilesEnv).
func TestMain(m *testing.M) {
	if n := os.Getenv(lowFilesEnv); n != "" {
		os.Exit(serveWithFewFiles(n))
	}
	if url := os.Getenv("XCTRL_LOAD_URL"); url != "" {
		n, _ := strconv.Atoi(os.Getenv("XCTRL_LOAD_SOCKETS"))
		err := loadgen.Child(context.Background(), loadgen.Options{URL: url, Sockets: n, Users: 100, UserPrefix: "load",
			Domain: ctrltest.Domain, Password: ctrltest.Password, SourceIPs: 4},
			bufio.NewReader(os.Stdin), bufio.NewWriter(os.Stdout))
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChild runs this test binary again, with env added, as the child
// process its TestMain makes of it, and returns the first line the child
// prints, and stop: it closes the child's stdin (the child's cue to end)
// and waits for it. stop runs when the test ends, if not before.
func startChild(tb testing.TB, ctx context.Context, env ...string) (line string, stop func()) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stop = sync.OnceFunc(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	tb.Cleanup(stop)
	line, err = bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("child process: %q %v", line, err)
	}
	return line, stop
}

// benchEnv is an env for benchmarks: no leak check, generous deadline, no
// rate limit; more, if set, changes the configuration further.
func benchEnv(b *testing.B, more ...func(*ctrl.Config)) (*ctrltest.Env, *ctrl.Server) {
	e := ctrltest.New(b, ctrltest.Options{Timeout: 10 * time.Minute, NoLeak: true})
	for i := 0; i < 100; i++ {
		e.Users.Add(fmt.Sprint("load", i), ctrltest.Domain, ctrltest.Password, nil)
	}
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.MetricsListen = ""
		c.Limits.RatePerSec = 1e9
		// The per-user bounds are checked (their cost is measured) but
		// never reached.
		c.Limits.UserRatePerSec, c.Limits.UserRateBurst = 1e9, 1<<30
		c.Limits.UserBytesPerSec, c.Limits.UserBytesBurst = 1e15, 1<<50
		c.Limits.InviteRatePerUser, c.Limits.InviteBurstPerUser = 1e9, 1<<30
		c.Limits.MaxCallsPerUser = 1 << 30
		c.Limits.BroadcastRatePerUser, c.Limits.BroadcastBurstPerUser = 1e9, 1<<30
		c.Limits.LoginRatePerUser, c.Limits.LoginBurstPerUser = 1e9, 1<<30
		c.Limits.MaxSocketsPerUser = 1 << 30
		c.Limits.RateBurst = 1e9
		c.Limits.LoginFailuresPerAddr = 1 << 30
		c.Limits.MaxQueue = 1 << 16
		c.Timers.Invite = 30 * time.Second
		c.Timers.Request = 30 * time.Second
		c.NoPoller = os.Getenv("XCTRL_NOPOLLER") != ""
		for _, f := range more {
			f(c)
		}
	})
	return e, x
}

// rawClient is a bare Verto socket for timing loops.
type rawClient struct {
	c  *websocket.Conn
	id int64
}

func rawLogin(b *testing.B, url, user string) *rawClient {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	r := &rawClient{c: c}
	if _, err := r.call("login", fmt.Sprintf(`{"login":%q,"passwd":%q,"sessid":"bench-%d"}`, user+"@"+ctrltest.Domain,
		ctrltest.Password, time.Now().UnixNano())); err != nil {
		b.Fatal(err)
	}
	return r
}

// call sends a request and reads until its reply, skipping server
// requests; it returns the reply frame.
func (r *rawClient) call(method, params string) ([]byte, error) {
	r.id++
	frame := `{"jsonrpc":"2.0","id":` + strconv.FormatInt(r.id, 10) + `,"method":"` + method + `","params":` + params + `}`
	if err := r.c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		return nil, err
	}
	want := []byte(`"id":` + strconv.FormatInt(r.id, 10) + `,`)
	for {
		_, b, err := r.c.ReadMessage()
		if err != nil {
			return nil, err
		}
		if !strings.Contains(string(b), `"method"`) && strings.Contains(string(b), string(want)) {
			if strings.Contains(string(b), `"error"`) {
				return b, fmt.Errorf("error reply: %s", b)
			}
			return b, nil
		}
	}
}

func median(d []time.Duration) time.Duration { return loadgen.Quantile(d, 0.5) }

func p99(d []time.Duration) time.Duration { return loadgen.Quantile(d, 0.99) }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// BenchmarkRelay measures, in one run: a raw NATS request/reply, a raw
// WebSocket echo, and the full relay client -> XCtrl -> NATS -> node ->
// XCtrl -> client (verto.info on a call), each b.N times, and reports the
// medians, the relay's p99 and its ratio to the two raw medians added. The
// relay runs twice: to the fake node, which reads each request as a node
// must, and to a bare node that answers unread as the raw NATS responder
// does; the second ratio is XCtrl's own part. The five operations run in a
// new random order each round (loadgen.Rounds).
func BenchmarkRelay(b *testing.B) {
	e, x := benchEnv(b)
	e.StartNode(fakenode.Options{UUID: "bench", Quiet: true})
	e.StartNode(fakenode.Options{UUID: "bare", Quiet: true, Bare: true})
	cl := rawLogin(b, x.WSURL(), "1000")
	if _, err := cl.call("verto.invite", inviteParams("relay-call")); err != nil {
		b.Fatal(err)
	}
	// node_uuid routes each request, whichever node took the invite: a
	// node that reads it (the fake node, as a node must) and one that
	// answers unread, as the raw NATS responder does.
	info := `{"dtmf":"1","node_uuid":"bench","dialogParams":{"callID":"relay-call","destination_number":"9196","caller_id_name":"Bench","caller_id_number":"1000"}}`
	bareInfo := strings.Replace(info, `"node_uuid":"bench"`, `"node_uuid":"bare"`, 1)
	sample := []byte(`{"jsonrpc":"2.0","id":"1","method":"verto.info","params":` + info + `,"sessid":"bench-0123456789","ctrl_uuid":"` +
		x.CtrlUUID() + `","node_uuid":"bench","xrtc_user":{"login":"1000@example.com","id":"1000","domain":"example.com"}}`)

	// Raw NATS request/reply on the same server.
	nc, err := nats.Connect(e.NATS.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	resp, err := nats.Connect(e.NATS.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Close()
	sub, _ := resp.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	defer sub.Unsubscribe()
	_ = resp.Flush()
	// Raw WebSocket echo with the same library.
	echo := httptest.NewServer(loadgen.EchoHandler())
	defer echo.Close()
	ec, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(echo.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ec.Close()
	wsFrame := []byte(`{"jsonrpc":"2.0","id":1,"method":"verto.info","params":` + info + `}`)

	var raw loadgen.RawTimes
	relayT := make([]time.Duration, 0, b.N)
	pingT := make([]time.Duration, 0, b.N)
	nodeT := make([]time.Duration, 0, b.N)
	bareT := make([]time.Duration, 0, b.N)
	nodeSubject := verto.DefaultSubjects().Node("bench")
	timed := func(d *[]time.Duration, method, params string) func() {
		return func() {
			t := time.Now()
			if _, err := cl.call(method, params); err != nil {
				b.Fatal(err)
			}
			*d = append(*d, time.Since(t))
		}
	}
	b.ResetTimer()
	loadgen.Rounds(b.N,
		func() {
			if err := raw.Round(nc, "bench.echo", sample, ec, wsFrame); err != nil {
				b.Fatal(err)
			}
		},
		timed(&relayT, "verto.info", info),
		timed(&pingT, "verto.ping", "{}"),
		func() {
			t := time.Now()
			if _, err := nc.Request(nodeSubject, sample, 5*time.Second); err != nil {
				b.Fatal(err)
			}
			nodeT = append(nodeT, time.Since(t))
		},
		timed(&bareT, "verto.info", bareInfo))
	b.StopTimer()
	// The relay is one operation that holds a WebSocket round trip and a
	// NATS one; its baseline is the same, a NATS request/reply then a
	// WebSocket echo timed as one (raw.Raw). Both are right-skewed (a hop that
	// has to wake a sleeping thread takes tens of µs more), so the median
	// of the pair is above the sum of the two medians, and a relay over
	// that sum (relay/(nats+ws), kept as it was first reported) reads
	// higher than the relay costs. The ratios at p10 and p90 show it is
	// not an artefact of the median.
	nm, wm, rm, bm := median(raw.NATS), median(raw.WS), median(relayT), median(bareT)
	b.ReportMetric(us(nm), "nats-median-µs")
	b.ReportMetric(us(wm), "ws-median-µs")
	b.ReportMetric(us(median(raw.Raw)), "nats-then-ws-median-µs")
	b.ReportMetric(us(rm), "relay-median-µs")
	b.ReportMetric(us(median(pingT)), "xctrl-ping-median-µs")
	b.ReportMetric(us(median(nodeT)), "node-direct-median-µs")
	b.ReportMetric(us(p99(relayT)), "relay-p99-µs")
	b.ReportMetric(float64(rm)/float64(nm+wm), "relay/(nats+ws)")
	loadgen.RelayRatios(b.ReportMetric, "relay/raw", relayT, raw.Raw)
	loadgen.RelayRatios(b.ReportMetric, "relay-bare-node/raw", bareT, raw.Raw)
	b.ReportMetric(us(bm), "relay-bare-node-median-µs")
	b.ReportMetric(float64(bm)/float64(nm+wm), "relay-bare-node/(nats+ws)")
}

// BenchmarkIdleSocketPing measures the first message of a socket that has
// been idle: it waits in the epoll poller, not on a goroutine of its own
// (Timers.ReadLinger is 1 ms here, and each verto.ping comes 3 ms after
// the last). It reports the round trip's median and p99.
func BenchmarkIdleSocketPing(b *testing.B) {
	_, x := benchEnv(b, func(c *ctrl.Config) { c.Timers.ReadLinger = time.Millisecond })
	cl := rawLogin(b, x.WSURL(), "load0")
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(3 * time.Millisecond) // past the linger: the socket is back with the poller
		t0 := time.Now()
		if _, err := cl.call("verto.ping", "{}"); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	b.ReportMetric(us(median(ds)), "idle-ping-median-µs")
	b.ReportMetric(us(p99(ds)), "idle-ping-p99-µs")
}

func inviteParams(callID string) string {
	return `{"sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n` +
		`m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host\r\n` +
		`a=ice-ufrag:Ab12\r\na=ice-pwd:Cd34Ef56Gh78Ij90Kl12Mn34\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:` +
		`00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n` +
		`a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n` +
		`a=rtpmap:126 telephone-event/8000\r\n","dialogParams":{"callID":"` + callID + `","destination_number":"9196",` +
		`"caller_id_name":"Bench","caller_id_number":"1000","useVideo":false,"useStereo":true,"screenShare":false}}`
}

// BenchmarkInvite measures invites routed per second: 32 logged-in sockets
// send verto.invite (a real-sized SDP) and wait for CALL CREATED.
func BenchmarkInvite(b *testing.B) {
	e, x := benchEnv(b)
	e.StartNode(fakenode.Options{UUID: "bench-a", Quiet: true})
	e.StartNode(fakenode.Options{UUID: "bench-b", Quiet: true})
	const sockets = 32
	pool := make(chan *rawClient, sockets)
	for i := 0; i < sockets; i++ {
		pool <- rawLogin(b, x.WSURL(), fmt.Sprint("load", i))
	}
	var seq atomic.Int64
	b.SetParallelism(sockets / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		cl := <-pool
		defer func() { pool <- cl }()
		for pb.Next() {
			id := seq.Add(1)
			if _, err := cl.call("verto.invite", inviteParams(fmt.Sprintf("inv-%d", id))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "invites/s")
}

// BenchmarkLogin measures logins per second and a login's latency
// (connect, login, clientReady; 16 at a time) with 1, 10 and 50 nodes
// reporting their status every second: a sessid with no call reaches no
// node, so the figures must not fall as nodes are added. node-requests/login
// counts what the nodes were asked (xrtc.login, xrtc.detach) per login.
func BenchmarkLogin(b *testing.B) {
	for _, nodes := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("nodes-%d", nodes), func(b *testing.B) { benchLogins(b, nodes) })
	}
}

func benchLogins(b *testing.B, nodes int) {
	e, x := benchEnv(b)
	ns := make([]*fakenode.Node, nodes)
	for i := range ns {
		ns[i] = e.StartNode(fakenode.Options{UUID: fmt.Sprint("bench-", i), UpdateEvery: time.Second})
	}
	var (
		seq  atomic.Int64
		mu   sync.Mutex
		took []time.Duration
	)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			took = append(took, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			n := seq.Add(1)
			t0 := time.Now()
			c, _, err := websocket.DefaultDialer.Dial(x.WSURL(), nil)
			if err != nil {
				b.Error(err)
				return
			}
			r := &rawClient{c: c}
			if _, err := r.call("login", fmt.Sprintf(`{"login":"load%d@%s","passwd":%q,"sessid":"bl-%d"}`, n%100,
				ctrltest.Domain, ctrltest.Password, n)); err != nil {
				b.Error(err)
			}
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					b.Error(err)
					break
				}
				if strings.Contains(string(m), "verto.clientReady") {
					mine = append(mine, time.Since(t0))
					break
				}
			}
			c.Close()
		}
	})
	el := time.Since(start)
	b.StopTimer()
	asked := 0
	for _, n := range ns {
		asked += n.Count(verto.MethodXrtcLogin) + n.Count(verto.MethodXrtcDetach)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "logins/s")
	b.ReportMetric(us(median(took)), "login-median-µs")
	b.ReportMetric(us(p99(took)), "login-p99-µs")
	b.ReportMetric(float64(asked)/float64(b.N), "node-requests/login")
}

// BenchmarkIdleSocketMemory opens XCTRL_BENCH_SOCKETS (10,000) logged-in
// sockets from a child process and reports what each costs XCtrl: Go heap
// plus goroutine stacks (this process also runs the embedded NATS holding
// the registry bucket), and resident memory.
func BenchmarkIdleSocketMemory(b *testing.B) {
	n := 10000
	if s := os.Getenv("XCTRL_BENCH_SOCKETS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if lim := loadgen.RaiseFileLimit(); lim < uint64(n)+1000 {
		b.Skipf("RLIMIT_NOFILE %d is too low for %d sockets", lim, n)
	}
	e, x := benchEnv(b)
	heap := func() (uint64, uint64, uint64) {
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse, rss()
	}
	h0, s0, r0 := heap()
	line, stop := startChild(b, e.Ctx, "XCTRL_LOAD_URL="+x.WSURL(), "XCTRL_LOAD_SOCKETS="+strconv.Itoa(n))
	if !strings.HasPrefix(line, "ready") {
		b.Fatalf("load process: %q", line)
	}
	if err := x.WaitSockets(e.Ctx, func(_, in int) bool { return in >= n }); err != nil {
		b.Fatal(err)
	}
	h1, s1, r1 := heap()
	b.ReportMetric(float64(h1+s1-h0-s0)/float64(n)/1024, "KiB-heap+stack/socket")
	b.ReportMetric(float64(s1-s0)/float64(n)/1024, "KiB-stack/socket")
	b.ReportMetric(float64(int64(r1)-int64(r0))/float64(n)/1024, "KiB-RSS/socket")
	b.ReportMetric(float64(n), "sockets")
	stop()
	if err := x.WaitSockets(e.Ctx, func(open, _ int) bool { return open == 0 }); err != nil {
		b.Fatal(err)
	}
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.ParseUint(f[1], 10, 64)
	return p * uint64(os.Getpagesize())
}
