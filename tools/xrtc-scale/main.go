// Command xrtc-scale runs xcc-rtc scaled out on one machine and prints what
// the scale-out costs: an in-process 3-server NATS cluster (JetStream, the
// registry bucket with 3 replicas), 3 XCtrl instances each on its own NATS
// server, 4 test nodes (module/testhost), idle logged-in sockets spread
// over the instances, and media calls from the nodes to WebRTC users
// logged in on another instance than the one that takes the invite.
//
// Clients are child processes of this program (file-descriptor limits, and
// so that the servers' CPU is theirs): one ctrl/loadgen child per XCtrl for
// the idle sockets, one tools/client child for the called users (each
// answers with a 600 Hz tone; the node echoes).
//
// It prints logins/s overall, invites/s, and p50/p99 of the cross-instance
// user lookup (the registry lookup an XCtrl makes for a user whose socket
// is on another instance), and how many calls had media both ways.
//
//	xrtc-scale                           # 15,000 sockets, 200 calls
//	xrtc-scale --sockets 3000 --calls 50
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/loadgen"
	"xccrtc/module/testhost"
	"xccrtc/tools/internal/childproc"
	"xccrtc/verto"
)

const (
	domain   = "scale.example"
	password = "1234"
	ctrls    = 3
	nodes    = 4
)

type options struct {
	sockets, calls, lookups, concurrency int
	hold                                 time.Duration
	rate                                 float64
	verbose                              bool
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "load":
			os.Exit(loadgen.ChildMain(os.Args[2:]))
		case "callees":
			os.Exit(runCallees(os.Args[2:]))
		}
	}
	var o options
	fs := flag.NewFlagSet("xrtc-scale", flag.ExitOnError)
	fs.IntVar(&o.sockets, "sockets", 15000, "idle logged-in sockets, spread over the 3 XCtrl instances")
	fs.IntVar(&o.calls, "calls", 200, "media calls from the nodes to users logged in on another instance")
	fs.IntVar(&o.lookups, "lookups", 3000, "cross-instance registry lookups timed")
	fs.IntVar(&o.concurrency, "concurrency", 50, "logins in flight per load process")
	fs.Float64Var(&o.rate, "rate", 50, "calls placed per second (0: all at once)")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "how long the calls are held with media")
	fs.BoolVar(&o.verbose, "v", false, "log the servers' warnings")
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "xrtc-scale:", err)
		os.Exit(1)
	}
}

func logf(format string, a ...any) { fmt.Fprintf(os.Stderr, "[scale] "+format+"\n", a...) }

func run(ctx context.Context, o options) error {
	fdLimit := loadgen.RaiseFileLimit()
	if need := uint64(o.sockets + 2*o.calls + 1000); fdLimit < need {
		return fmt.Errorf("RLIMIT_NOFILE %d: %d sockets and %d calls need about %d", fdLimit, o.sockets, o.calls, need)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	// The NATS cluster.
	cluster, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range cluster {
			s.Shutdown()
		}
	}()
	urls := make([]string, len(cluster))
	for i, s := range cluster {
		urls[i] = s.ClientURL()
	}
	// rotated: instance i connects to server i first.
	rot := func(i int) []string { return append(append([]string(nil), urls[i%3:]...), urls[:i%3]...) }
	logf("NATS cluster: %s", strings.Join(urls, " "))

	// 3 XCtrl, registry with 3 replicas.
	users := ctrl.MapStore{}
	for i := 0; i < 1000; i++ {
		users.Add(fmt.Sprintf("load%d", i), domain, password, nil)
	}
	for i := 0; i < o.calls; i++ {
		users.Add(fmt.Sprintf("callee%d", i), domain, password, nil)
	}
	var xs []*ctrl.Server
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, x := range xs {
			_ = x.Shutdown(sctx)
		}
	}()
	for i := 0; i < ctrls; i++ {
		x, err := ctrl.New(ctrl.Config{CtrlUUID: fmt.Sprintf("xctrl-%d", i+1), WSListen: "127.0.0.1:0", NATSURLs: rot(i),
			RegistryReplicas: 3, DefaultDomain: domain}, ctrl.Deps{Users: users, Logger: log})
		if err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = x.Start(sctx)
		cancel()
		if err != nil {
			return fmt.Errorf("xctrl-%d: %w", i+1, err)
		}
		xs = append(xs, x)
		logf("%s on %s, NATS %s", x.CtrlUUID(), x.WSURL(), rot(i)[0])
	}

	// 4 test nodes, spread over the servers.
	var ns []*testhost.Node
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range ns {
			_ = n.Close(sctx)
		}
	}()
	for i := 0; i < nodes; i++ {
		cfg := testhost.DefaultConfig()
		n, err := testhost.Start(ctx, testhost.Options{NATSURL: strings.Join(rot(i), ","), NodeUUID: fmt.Sprintf("node-%d", i+1),
			Config: &cfg, Domain: domain, Log: log})
		if err != nil {
			return fmt.Errorf("node %d: %w", i+1, err)
		}
		ns = append(ns, n)
	}
	for _, x := range xs {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := x.WaitNodes(wctx, func(n []verto.Node) bool { return len(n) == nodes })
		cancel()
		if err != nil {
			return fmt.Errorf("%s does not see %d nodes: %w", x.CtrlUUID(), nodes, err)
		}
	}
	logf("%d nodes alive on every instance", nodes)

	// The idle sockets: one load process per instance.
	per := o.sockets / ctrls
	start := time.Now()
	var loads []*childproc.Child
	defer func() {
		for _, l := range loads {
			l.Stop()
		}
	}()
	for i, x := range xs {
		n := per
		if i == ctrls-1 {
			n = o.sockets - per*(ctrls-1)
		}
		lo := loadgen.Options{URL: x.WSURL(), Sockets: n, Concurrency: o.concurrency, Users: 300, UserBase: i * 300,
			Domain: domain, Password: password, SourceIPs: 8, WaitReady: true}
		l, err := childproc.Start(ctx, append([]string{"load"}, lo.Args()...)...)
		if err != nil {
			return err
		}
		loads = append(loads, l)
	}
	logf("logging in %d sockets (%d per instance, %d in flight each)...", o.sockets, per, o.concurrency)
	var loginRates []string
	for i, l := range loads {
		line, err := l.Line()
		if err != nil {
			return fmt.Errorf("load %d: %w", i+1, err)
		}
		loginRates = append(loginRates, strings.TrimPrefix(line, "ready "))
	}
	loginWall := time.Since(start)
	logf("every socket in after %v (per process: sockets logins/s = %s)", loginWall.Round(time.Millisecond), strings.Join(loginRates, "; "))

	// The called users: callee<i> on instance i%3.
	var calleeURLs []string
	for _, x := range xs {
		calleeURLs = append(calleeURLs, x.WSURL())
	}
	callees, err := childproc.Start(ctx, "callees", "--urls", strings.Join(calleeURLs, ","), "--count", strconv.Itoa(o.calls))
	if err != nil {
		return err
	}
	defer callees.Stop()
	if _, err := callees.Line(); err != nil {
		return fmt.Errorf("callees: %w", err)
	}
	logf("%d callees logged in", o.calls)

	// Cross-instance lookups: the registry as instance (i+1)%3 sees a user
	// whose socket is on instance i, each through its own NATS server.
	lookups, err := timeLookups(ctx, urls, o)
	if err != nil {
		return err
	}

	// The calls: from node i%4, through instance (i+1)%3, to callee<i> on
	// instance i%3.
	logf("placing %d calls to users on another instance, %.0f/s...", o.calls, o.rate)
	type res struct {
		ch  *testhost.Channel
		d   time.Duration
		err error
	}
	results := make([]res, o.calls)
	var wg sync.WaitGroup
	cstart := time.Now()
	for i := 0; i < o.calls; i++ {
		if o.rate > 0 {
			if wait := time.Until(cstart.Add(time.Duration(float64(i) / o.rate * float64(time.Second)))); wait > 0 {
				time.Sleep(wait) // paces the calls
			}
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			via := xs[(i+1)%ctrls].CtrlUUID()
			dial := fmt.Sprintf("{ctrl_uuid=%s,origination_caller_id_number=%d}xrtc/callee%d@%s", via, 5000+i, i, domain)
			t0 := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			ch, err := ns[i%nodes].Originate(cctx, dial, testhost.AppEcho)
			results[i] = res{ch, time.Since(t0), err}
		}(i)
	}
	wg.Wait()
	callWall := time.Since(cstart)
	var answered int
	var setup []time.Duration
	fails := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			fails[r.err.Error()]++
			continue
		}
		answered++
		setup = append(setup, r.d)
	}
	logf("%d of %d answered in %v; holding %v...", answered, o.calls, callWall.Round(time.Millisecond), o.hold)
	select {
	case <-time.After(o.hold):
	case <-ctx.Done():
		return ctx.Err()
	}
	var media int
	for _, r := range results {
		if r.ch != nil && r.err == nil && r.ch.Stats().RTPIn >= 100 {
			media++
		}
	}
	if err := callees.Send("report"); err != nil {
		return err
	}
	calleeReport, err := callees.Line()
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.ch != nil {
			r.ch.Hangup(verto.CauseNormalClearing)
		}
	}

	open, in := 0, 0
	for _, x := range xs {
		a, b := x.Sockets()
		open, in = open+a, in+b
	}
	fmt.Printf("\nxrtc-scale: 3 NATS servers (registry replicas 3), %d XCtrl, %d nodes, %d cores\n", ctrls, nodes, runtime.NumCPU())
	fmt.Printf("%-44s %d (%d logged in)\n", "sockets open on the instances", open, in)
	fmt.Printf("%-44s %.0f  (%d in %v, 3 processes x %d in flight)\n", "logins/s overall", float64(o.sockets)/loginWall.Seconds(),
		o.sockets, loginWall.Round(time.Millisecond), o.concurrency)
	fmt.Printf("%-44s %.0f  (%d of %d answered in %v, placed at %.0f/s; setup p50 %v, p99 %v)\n", "invites/s (node -> other instance's user)",
		float64(answered)/callWall.Seconds(), answered, o.calls, callWall.Round(time.Millisecond), o.rate,
		loadgen.Quantile(setup, 0.5).Round(time.Microsecond), loadgen.Quantile(setup, 0.99).Round(time.Microsecond))
	fmt.Printf("%-44s p50 %v, p99 %v (%d lookups, %d sockets registered)\n", "cross-instance user lookup",
		loadgen.Quantile(lookups, 0.5).Round(time.Microsecond), loadgen.Quantile(lookups, 0.99).Round(time.Microsecond), len(lookups), in)
	fmt.Printf("%-44s %d at the nodes (>= 100 packets in); callees: %s\n", "calls with media after the hold", media, calleeReport)
	for e, n := range fails {
		fmt.Printf("  failed: %d x %s\n", n, e)
	}
	if answered < o.calls || media < answered {
		return errors.New("not every call was answered with media")
	}
	return nil
}

// startCluster starts 3 clustered nats-servers with JetStream on loopback
// and waits for the JetStream meta leader.
func startCluster(ctx context.Context) ([]*server.Server, error) {
	var srvs []*server.Server
	var routes []string
	for i := 1; i <= 3; i++ {
		dir, err := os.MkdirTemp("", "xrtc-scale-nats-")
		if err != nil {
			return srvs, err
		}
		o := &server.Options{ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir,
			Cluster: server.ClusterOpts{Name: "xrtc-scale", Host: "127.0.0.1", Port: -1},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")), NoSigs: true, NoLog: true, MaxPayload: 1 << 20}
		s, err := server.NewServer(o)
		if err != nil {
			return srvs, err
		}
		go s.Start()
		srvs = append(srvs, s)
		if !s.ReadyForConnections(20 * time.Second) {
			return srvs, fmt.Errorf("nats n%d not ready", i)
		}
		routes = append(routes, "nats-route://"+s.ClusterAddr().String())
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		for _, s := range srvs {
			// A leader that knows every member: replicated buckets are
			// placed only on peers it has current stats of.
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(srvs) {
				return srvs, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return srvs, errors.New("no JetStream meta leader in 30 s")
		}
		time.Sleep(50 * time.Millisecond) // polls the election
	}
}

// timeLookups times registry lookups of callee<i> (on instance i%3) made
// through NATS server (i+1)%3, as the instance taking the invite does.
func timeLookups(ctx context.Context, urls []string, o options) ([]time.Duration, error) {
	var regs []*ctrl.KVRegistry
	for _, u := range urls {
		nc, err := nats.Connect(u)
		if err != nil {
			return nil, err
		}
		defer nc.Close()
		r, err := ctrl.NewKVRegistry(ctx, nc, ctrl.KVOptions{Bucket: "xrtc_registry", TTL: time.Minute, Replicas: 3})
		if err != nil {
			return nil, err
		}
		regs = append(regs, r)
	}
	out := make([]time.Duration, 0, o.lookups)
	for i := 0; i < o.lookups; i++ {
		u := i % o.calls
		login := fmt.Sprintf("callee%d@%s", u, domain)
		t0 := time.Now()
		got, err := regs[(u+1)%len(regs)].Lookup(ctx, login)
		d := time.Since(t0)
		if err != nil {
			return out, fmt.Errorf("lookup %s: %w", login, err)
		}
		if len(got) != 1 || got[0].CtrlUUID != fmt.Sprintf("xctrl-%d", u%ctrls+1) {
			return out, fmt.Errorf("lookup %s: %+v", login, got)
		}
		out = append(out, d)
	}
	return out, nil
}
