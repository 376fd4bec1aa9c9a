// Command xrtc-bench runs the same Verto load against XCtrl and, when a
// FreeSWITCH with mod_verto is installed, against mod_verto, and prints for
// both: logins per second, resident memory per idle logged-in socket, and
// verto.ping round-trip p50/p99, with the ratios.
//
// Every party is a process of its own: the server (an XCtrl with its
// embedded NATS, or FreeSWITCH) and the clients (a child running
// ctrl/loadgen), so that the server's RSS is its own and the load's CPU is
// not the server's. The FreeSWITCH phase takes /tmp/freeswitch.lock (the
// machine's FreeSWITCH is shared) and stops the FreeSWITCH it started.
//
//	xrtc-bench                              # 18,000 sockets on XCtrl, 4,000 on mod_verto
//	xrtc-bench --sockets 4000 --modverto-sockets 4000 --concurrency 50
//	xrtc-bench --no-modverto
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/loadgen"
	"xccrtc/tools/internal/childproc"
)

type options struct {
	sockets, mvSockets, concurrency int
	probes, pings                   int
	settle                          time.Duration
	fsPrefix                        string
	noModVerto                      bool
	sourceIPs                       int
	noPoller                        bool
	cpuProfile                      string
}

func main() {
	// The child roles.
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "serve-xctrl":
			os.Exit(serveXCtrl(os.Args[2:]))
		case "load":
			os.Exit(loadgen.ChildMain(os.Args[2:]))
		}
	}
	var o options
	fs := flag.NewFlagSet("xrtc-bench", flag.ExitOnError)
	fs.IntVar(&o.sockets, "sockets", 18000, "idle logged-in sockets opened on XCtrl")
	fs.IntVar(&o.mvSockets, "modverto-sockets", 4000, "idle logged-in sockets opened on mod_verto (a thread each there)")
	fs.IntVar(&o.concurrency, "concurrency", 50, "logins in flight")
	fs.IntVar(&o.probes, "probes", 1000, "sockets that send verto.ping (round robin, one ping in flight)")
	fs.IntVar(&o.pings, "pings", 5000, "verto.ping round trips timed")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "idle time before the memory is read")
	fs.StringVar(&o.fsPrefix, "freeswitch", "/usr/local/freeswitch", "FreeSWITCH prefix (bin/freeswitch, mod/mod_verto.so)")
	fs.BoolVar(&o.noModVerto, "no-modverto", false, "measure XCtrl only")
	fs.IntVar(&o.sourceIPs, "source-ips", 8, "spread client sockets over 127.0.0.1..127.0.0.N")
	fs.BoolVar(&o.noPoller, "no-poller", false, "XCtrl with a reader goroutine per socket (Config.NoPoller), for comparison")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write XCtrl's CPU profile (logins and pings) to `file`")
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "xrtc-bench:", err)
		os.Exit(1)
	}
}

// figures are one server's results.
type figures struct {
	name          string
	sockets       int
	loginsPerSec  float64
	rssPerSocket  float64 // KiB
	rssBase, rss  uint64  // bytes
	pingP50, p99  time.Duration
	measured      bool
	why           string
	rssNoGC       float64 // KiB per socket before a forced GC (XCtrl)
	goroutinesIdl int
	// CPU time (user+system) per login while the sockets logged in, in
	// µs: the server's and the load's. Less noisy than logins/s on a
	// shared machine: it does not count the time others' processes took.
	serverCPU, loadCPU float64
}

func run(ctx context.Context, o options) error {
	fmt.Printf("xrtc-bench: %d cores, GOMAXPROCS %d, RLIMIT_NOFILE %d\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), loadgen.RaiseFileLimit())
	x, err := benchXCtrl(ctx, o)
	if err != nil {
		return fmt.Errorf("XCtrl: %w", err)
	}
	mv := figures{name: "mod_verto", why: "--no-modverto"}
	if !o.noModVerto {
		mv, err = benchModVerto(ctx, o)
		if err != nil {
			mv = figures{name: "mod_verto", why: err.Error()}
		}
	}
	report(os.Stdout, x, mv)
	return nil
}

func report(w io.Writer, x, mv figures) {
	fmt.Fprintf(w, "\n%-10s %8s %12s %16s %12s %12s %18s %16s\n", "server", "sockets", "logins/s", "KiB RSS/socket", "ping p50", "ping p99",
		"server CPU/login", "load CPU/login")
	for _, f := range []figures{x, mv} {
		if !f.measured {
			fmt.Fprintf(w, "%-10s not measured: %s\n", f.name, f.why)
			continue
		}
		fmt.Fprintf(w, "%-10s %8d %12.0f %16.2f %12s %12s %15.0f µs %13.0f µs\n", f.name, f.sockets, f.loginsPerSec, f.rssPerSocket,
			f.pingP50.Round(time.Microsecond), f.p99.Round(time.Microsecond), f.serverCPU, f.loadCPU)
	}
	if x.rssNoGC > 0 {
		fmt.Fprintf(w, "XCtrl RSS/socket without a forced GC: %.2f KiB; goroutines with every socket idle: %d\n", x.rssNoGC, x.goroutinesIdl)
	}
	if !mv.measured {
		fmt.Fprintln(w, "ratios: mod_verto was not measured")
		return
	}
	fmt.Fprintf(w, "ratios XCtrl vs mod_verto: logins/s %.1fx (target >= 20x), RSS/socket 1/%.0f (target <= 1/100), ping p99 %.2fx (target < 1), server CPU/login 1/%.1f\n",
		x.loginsPerSec/mv.loginsPerSec, mv.rssPerSocket/x.rssPerSocket, float64(x.p99)/float64(mv.p99), mv.serverCPU/x.serverCPU)
}

// benchXCtrl runs an XCtrl (embedded NATS, no node) in a child process.
func benchXCtrl(ctx context.Context, o options) (figures, error) {
	f := figures{name: "XCtrl", sockets: o.sockets}
	args := []string{"serve-xctrl"}
	if o.noPoller {
		args = append(args, "--no-poller")
	}
	if o.cpuProfile != "" {
		args = append(args, "--cpuprofile", o.cpuProfile)
	}
	srv, err := childproc.Start(ctx, args...)
	if err != nil {
		return f, err
	}
	defer srv.Stop()
	line, err := srv.Line()
	if err != nil {
		return f, err
	}
	url, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		return f, fmt.Errorf("server: %q", line)
	}
	var cpu time.Duration
	rss := func(cmd string) (uint64, int, error) {
		if err := srv.Send(cmd); err != nil {
			return 0, 0, err
		}
		l, err := srv.Line()
		if err != nil {
			return 0, 0, err
		}
		var r uint64
		var g int
		_, err = fmt.Sscanf(l, "rss %d %d %d", &r, &g, &cpu)
		return r, g, err
	}
	if f.rssBase, _, err = rss("gc"); err != nil {
		return f, err
	}
	err = measureLoad(ctx, o, &f, loadgen.Options{URL: url, Sockets: o.sockets, Users: 20, UserPrefix: "-", UserBase: 1000,
		Domain: "127.0.0.1", Password: "1234"}, func() (time.Duration, error) {
		if _, _, err := rss("cpu"); err != nil {
			return 0, err
		}
		return cpu, nil
	}, func() (uint64, error) {
		time.Sleep(o.settle)
		noGC, g, err := rss("rss")
		if err != nil {
			return 0, err
		}
		f.rssNoGC = kib(noGC, f.rssBase, o.sockets)
		f.goroutinesIdl = g
		if os.Getenv("XRTC_BENCH_STACKS") != "" {
			_ = srv.Send("stacks")
		}
		r, _, err := rss("gc")
		return r, err
	})
	return f, err
}

func kib(after, before uint64, n int) float64 {
	return float64(int64(after)-int64(before)) / float64(n) / 1024
}

// measureLoad runs the load child against one server: logins (and the
// server's CPU time they took, from cpu), memory (read by rss once every
// socket is in), pings.
func measureLoad(ctx context.Context, o options, f *figures, lo loadgen.Options, cpu func() (time.Duration, error), rss func() (uint64, error)) error {
	lo.Concurrency, lo.SourceIPs, lo.WaitReady = o.concurrency, o.sourceIPs, true
	args := append([]string{"load"}, lo.Args()...)
	cl, err := childproc.Start(ctx, args...)
	if err != nil {
		return err
	}
	defer cl.Stop()
	cpu0, err := cpu()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: logging in %d sockets...\n", f.name, lo.Sockets)
	line, err := cl.Line()
	if err != nil {
		return err
	}
	var n int
	var loadCPU time.Duration
	if _, err := fmt.Sscanf(line, "ready %d %f %d", &n, &f.loginsPerSec, &loadCPU); err != nil {
		return fmt.Errorf("load: %s", line)
	}
	cpu1, err := cpu()
	if err != nil {
		return err
	}
	f.serverCPU = float64((cpu1 - cpu0).Microseconds()) / float64(n)
	f.loadCPU = float64(loadCPU.Microseconds()) / float64(n)
	if f.rss, err = rss(); err != nil {
		return err
	}
	f.rssPerSocket = kib(f.rss, f.rssBase, n)
	fmt.Fprintf(os.Stderr, "%s: %d sockets in, %.0f logins/s; timing %d pings...\n", f.name, n, f.loginsPerSec, o.pings)
	if err := cl.Send(fmt.Sprintf("ping %d %d", o.probes, o.pings)); err != nil {
		return err
	}
	if line, err = cl.Line(); err != nil {
		return err
	}
	var p50, p99 int64
	if _, err := fmt.Sscanf(line, "ping %d %d", &p50, &p99); err != nil {
		return fmt.Errorf("load: %s", line)
	}
	f.pingP50, f.p99 = time.Duration(p50), time.Duration(p99)
	f.measured = true
	return nil
}

// benchModVerto starts the installed FreeSWITCH (under the machine's
// FreeSWITCH lock) and loads its mod_verto on ws://127.0.0.1:8081 with the
// stock users 1000-1019, password 1234, domain 127.0.0.1.
func benchModVerto(ctx context.Context, o options) (figures, error) {
	f := figures{name: "mod_verto", sockets: o.mvSockets}
	bin := filepath.Join(o.fsPrefix, "bin", "freeswitch")
	if _, err := os.Stat(bin); err != nil {
		return f, fmt.Errorf("no FreeSWITCH at %s", bin)
	}
	if _, err := os.Stat(filepath.Join(o.fsPrefix, "mod", "mod_verto.so")); err != nil {
		return f, fmt.Errorf("no mod_verto.so in %s/mod", o.fsPrefix)
	}
	unlock, err := lockFreeSWITCH(ctx)
	if err != nil {
		return f, err
	}
	defer unlock()
	cli := filepath.Join(o.fsPrefix, "bin", "fs_cli")
	if exec.Command(cli, "-x", "status").Run() == nil {
		return f, errors.New("a FreeSWITCH already answers on 127.0.0.1:8021")
	}
	fmt.Fprintln(os.Stderr, "mod_verto: starting FreeSWITCH...")
	if out, err := exec.CommandContext(ctx, bin, "-nc", "-nonat", "-nonatmap", "-np").CombinedOutput(); err != nil {
		return f, fmt.Errorf("freeswitch: %v: %s", err, out)
	}
	defer stopFreeSWITCH(o.fsPrefix, cli)
	if err := waitUp(ctx, cli); err != nil {
		return f, err
	}
	pid, err := readPid(filepath.Join(o.fsPrefix, "run", "freeswitch.pid"))
	if err != nil {
		return f, err
	}
	time.Sleep(o.settle)
	if f.rssBase, err = procRSS(pid); err != nil {
		return f, err
	}
	err = measureLoad(ctx, o, &f, loadgen.Options{URL: "ws://127.0.0.1:8081/", Sockets: o.mvSockets, Users: 20, UserPrefix: "-",
		UserBase: 1000, Domain: "127.0.0.1", Password: "1234"}, func() (time.Duration, error) {
		return procCPU(pid)
	}, func() (uint64, error) {
		time.Sleep(o.settle)
		return procRSS(pid)
	})
	return f, err
}

// lockFreeSWITCH takes /tmp/freeswitch.lock as flock(1) does.
func lockFreeSWITCH(ctx context.Context) (func(), error) {
	fd, err := syscall.Open("/tmp/freeswitch.lock", syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("freeswitch lock: %w", err)
	}
	fmt.Fprintln(os.Stderr, "mod_verto: waiting for /tmp/freeswitch.lock...")
	done := make(chan error, 1)
	go func() { done <- syscall.Flock(fd, syscall.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			syscall.Close(fd)
			return nil, err
		}
	case <-ctx.Done():
		syscall.Close(fd)
		return nil, ctx.Err()
	}
	return func() { syscall.Close(fd) }, nil
}

func waitUp(ctx context.Context, cli string) error {
	for i := 0; i < 150; i++ {
		out, _ := exec.CommandContext(ctx, cli, "-x", "show modules mod_verto").CombinedOutput()
		if strings.Contains(string(out), "verto") {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:8081", time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("FreeSWITCH did not come up with mod_verto on 127.0.0.1:8081 in 30 s")
}

func stopFreeSWITCH(prefix, cli string) {
	pid, _ := readPid(filepath.Join(prefix, "run", "freeswitch.pid"))
	_ = exec.Command(cli, "-x", "shutdown").Run()
	for i := 0; i < 150 && pid > 0 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "mod_verto: FreeSWITCH stopped")
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// procRSS is a process's resident set (VmRSS) in bytes.
func procRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// procCPU is a process's CPU time (user + system) from /proc/<pid>/stat
// (clock ticks of 10 ms: enough over thousands of logins).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) start after ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("bad /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// serveXCtrl is the server child: an XCtrl with an embedded NATS and the
// users of FreeSWITCH's stock directory. It prints "listening <url>", then
// answers "rss", "cpu" (and "gc": after a forced GC) with "rss <bytes>
// <goroutines> <CPU time ns>"; stdin's end shuts it down. A CPU profile
// (--cpuprofile) ends at the first "rss": it covers the logins.
func serveXCtrl(args []string) int {
	fs := flag.NewFlagSet("serve-xctrl", flag.ExitOnError)
	noPoller := fs.Bool("no-poller", false, "")
	cpuProfile := fs.String("cpuprofile", "", "")
	_ = fs.Parse(args)
	stopProfile := func() {}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			stopProfile = sync.OnceFunc(func() {
				pprof.StopCPUProfile()
				f.Close()
			})
			defer stopProfile()
		}
	}
	loadgen.RaiseFileLimit()
	users := ctrl.MapStore{}
	for i := 1000; i < 1020; i++ {
		users.Add(strconv.Itoa(i), "127.0.0.1", "1234", nil)
	}
	dir, err := os.MkdirTemp("", "xrtc-bench-nats-")
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// The load spreads its sockets over the 20 users of FreeSWITCH's
	// stock directory, as on mod_verto: 900 each at 18,000, logged in as
	// fast as they go, past the default --max-sockets-per-user and
	// --login-rate-per-user.
	srv, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", NATSListen: "127.0.0.1:-1", NATSStoreDir: dir, NoPoller: *noPoller,
		Limits: ctrl.Limits{MaxSocketsPerUser: -1, LoginRatePerUser: -1}},
		ctrl.Deps{Users: users})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = srv.Start(ctx)
	cancel()
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("listening", srv.WSURL())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "gc":
			runtime.GC()
			debug.FreeOSMemory()
		case "stacks":
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		case "rss":
			stopProfile()
		}
		r, _ := procRSS(os.Getpid())
		fmt.Println("rss", r, runtime.NumGoroutine(), selfCPU().Nanoseconds())
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
