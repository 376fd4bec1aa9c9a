// Command xrtc-demo runs the whole of xcc-rtc on this machine, on 127.0.0.1,
// with no external service, and makes a real WebRTC call through it:
//
//   - an embedded NATS server (JetStream on: XCtrl's user registry),
//
//   - an XCtrl (ctrl.New), the Verto WebSocket controller,
//
//   - a node: the xrtc endpoint on module/testhost, a switch written in Go
//     with pion media (a test host, not FreeSWITCH), with its small
//     dialplan (9196 echo, 9197 tone, 9198 silence, 3000-3099 conference),
//
//   - a headless Verto client (tools/client) that logs in as
//     1000@xswitch.cn, calls 9196 with a 1 kHz tone over DTLS-SRTP and
//     prints its report.
//
//     xrtc-demo [--duration 5s] [--json] [--dest 9196] [-v]
//     xrtc-demo --serve [--ws-listen 127.0.0.1:8081] [--nats-listen 127.0.0.1:4222]
//     xrtc-demo --bench [--calls 200] [--rate 10] [--hold 20s] [--json]
//
// The exit status is 0 when audio flowed both ways. --serve only runs the
// servers (for xrtc-client or a browser); --bench runs them in a child
// process and loads them with echo calls from this one (make bench-media).
// See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// asMainEnv makes a test binary act as this command (the bench starts
// itself as the server process).
const asMainEnv = "XRTC_DEMO_AS_MAIN"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	duration time.Duration
	json     bool
	dest     string
	verbose  bool
	tone     float64

	serve      bool
	wsListen   string
	natsListen string
	statsAddr  string
	users      int
	parentPipe bool

	bench bool
	calls int
	rate  float64
	hold  time.Duration
}

// run is the command: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	var o options
	fs := flag.NewFlagSet("xrtc-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long the call stays up after answer")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object on stdout")
	fs.StringVar(&o.dest, "dest", "9196", "destination to call (9196 echo, 9197 tone)")
	fs.Float64Var(&o.tone, "tone", 1000, "frequency of the tone the client sends (Hz)")
	fs.BoolVar(&o.verbose, "v", false, "log every part at debug level on stderr")

	fs.BoolVar(&o.serve, "serve", false, "run NATS, XCtrl and the test node until SIGINT/SIGTERM; no client")
	fs.StringVar(&o.wsListen, "ws-listen", "", "XCtrl's ws:// address with --serve (default 127.0.0.1:8081; the demo picks a free port)")
	fs.StringVar(&o.natsListen, "nats-listen", "", "embedded NATS address with --serve (default 127.0.0.1:4222; the demo picks a free port)")
	fs.StringVar(&o.statsAddr, "stats-listen", "", "with --serve: serve /stats (node calls, memory, CPU) as JSON here")
	fs.IntVar(&o.users, "load-users", 1000, "with --serve: also create users load0..loadN-1@xswitch.cn (password 1234)")
	fs.BoolVar(&o.parentPipe, "parent-pipe", false, "with --serve: exit when stdin closes (the bench's child)")

	fs.BoolVar(&o.bench, "bench", false, "media load: servers in a child process, echo calls from this one")
	fs.IntVar(&o.calls, "calls", 200, "with --bench: concurrent calls")
	fs.Float64Var(&o.rate, "rate", 10, "with --bench: new calls per second while ramping up")
	fs.DurationVar(&o.hold, "hold", 20*time.Second, "with --bench: how long all calls are held after the ramp")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: xrtc-demo [--duration D] [--json] [--dest N] [-v]")
		fmt.Fprintln(fs.Output(), "       xrtc-demo --serve [--ws-listen ADDR] [--nats-listen ADDR]")
		fmt.Fprintln(fs.Output(), "       xrtc-demo --bench [--calls N] [--rate R] [--hold D] [--json]")
		fmt.Fprintln(fs.Output())
		fmt.Fprintln(fs.Output(), "Embedded NATS + XCtrl + a test node (pion, not FreeSWITCH) + a WebRTC client call, all on 127.0.0.1.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xrtc-demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.serve && o.bench {
		fmt.Fprintln(stderr, "xrtc-demo: --serve and --bench are exclusive")
		return 2
	}
	if o.calls <= 0 || o.rate <= 0 || o.duration <= 0 {
		fmt.Fprintln(stderr, "xrtc-demo: --calls, --rate and --duration must be positive")
		return 2
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	log, closeLog := newLogGate(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	defer func() { closeLog(); closeLog() }()
	switch {
	case o.serve:
		return serve(ctx, o, stdout, stderr, log, closeLog)
	case o.bench:
		return bench(ctx, o, stdout, stderr)
	default:
		return demo(ctx, o, stdout, stderr, log, closeLog)
	}
}

// lockedWriter serialises writes: client events, logs and progress lines
// come from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
