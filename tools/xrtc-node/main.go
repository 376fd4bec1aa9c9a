// Command xrtc-node runs a node as a process: the xrtc endpoint on the test
// host (module/testhost, a switch written in Go with pion media; not
// FreeSWITCH), connected to a NATS of its own choosing. It is the node of
// tests that kill nodes for real (the chaos suite: tools/xrtc-chaos,
// tools/e2e) and of a multi-process setup on one machine.
//
//	xrtc-node --nats nats://127.0.0.1:4222 --nats-token-file nats.token --node-uuid n1
//
// The dialplan is the test host's: 9196 echo, 9197 tone, 9198 silence,
// 3000-3099 conference. Once on the bus it prints "xrtc-node <uuid> ready"
// on stdout. It reads commands on stdin, one a line, and answers each on
// stdout:
//
//	originate <tag> <dial string> [echo|tone|silence]
//	    -> originate <tag> ok <call uuid> | originate <tag> error <why>
//	call <tag> <call uuid>
//	    -> call <tag> <the call as JSON: state, sessid, ctrl_uuid, rtp_in ...> | call <tag> none
//
// (a call to a WebRTC user, answered or failed as FreeSWITCH's originate
// would). SIGTERM or SIGINT stops it cleanly: its calls end with
// SYSTEM_SHUTDOWN.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"xccrtc/module/testhost"
	"xccrtc/module/xrtc"
	"xccrtc/natsauth"
	"xccrtc/verto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	nats           string
	auth           natsauth.Auth
	uuid, domain   string
	detach, media  time.Duration
	heartbeat      time.Duration
	ctrlProbe      time.Duration
	ctrlDead       time.Duration
	originateLimit time.Duration
	logLevel       string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xrtc-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.nats, "nats", "nats://127.0.0.1:4222", "NATS `URL[,URL...]`")
	fs.StringVar(&o.auth.Token, "nats-token", "", "NATS `token`")
	fs.StringVar(&o.auth.TokenFile, "nats-token-file", "", "`file` holding the NATS token")
	fs.StringVar(&o.auth.User, "nats-user", "", "NATS `user` (with --nats-password)")
	fs.StringVar(&o.auth.Password, "nats-password", "", "NATS `password`")
	fs.StringVar(&o.auth.CredsFile, "nats-creds", "", "NATS credentials `file`")
	fs.StringVar(&o.uuid, "node-uuid", "", "the node's `uuid` on the bus (default: generated)")
	fs.StringVar(&o.domain, "domain", "xswitch.cn", "the switch's default `domain`")
	fs.DurationVar(&o.detach, "detach-timeout", xrtc.DefaultDetachTimeout, "how long an answered call waits for its client to come back after its socket closed (detach-timeout-sec)")
	fs.DurationVar(&o.media, "media-timeout", 30*time.Second, "hang up a call without inbound RTP this long (MEDIA_TIMEOUT)")
	fs.DurationVar(&o.heartbeat, "heartbeat", 0, "period of Event.NodeUpdate (0: 20 s)")
	fs.DurationVar(&o.ctrlProbe, "ctrl-probe", 0, "how often each XCtrl holding a call here is pinged (0: 2 s)")
	fs.DurationVar(&o.ctrlDead, "ctrl-dead", 0, "no responders this long: the XCtrl is gone and its sockets are detached (0: 6 s)")
	fs.DurationVar(&o.originateLimit, "originate-timeout", 15*time.Second, "how long an originate command waits for the answer")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error (on stderr)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xrtc-node: unexpected arguments %q\n", fs.Args())
		return 2
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(stderr, "xrtc-node: --log-level: %v\n", err)
		return 2
	}
	if err := o.auth.Validate(); err != nil {
		fmt.Fprintf(stderr, "xrtc-node: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))

	cfg := testhost.DefaultConfig()
	cfg.Settings.NATSURLs = strings.Split(o.nats, ",")
	cfg.Settings.NATSAuth = o.auth
	cfg.Settings.DetachTimeout = o.detach
	for _, p := range cfg.Profiles {
		p.MediaTimeout = o.media
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	node, err := testhost.Start(sctx, testhost.Options{NodeUUID: o.uuid, Config: &cfg, Domain: o.domain, Log: log,
		Endpoint: func(eo *xrtc.Options) {
			eo.HeartbeatInterval = o.heartbeat
			eo.CtrlProbe = o.ctrlProbe
			eo.CtrlDead = o.ctrlDead
		}})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "xrtc-node: %v\n", err)
		return 1
	}
	out := &lineWriter{w: stdout}
	out.printf("xrtc-node %s ready", node.Endpoint.NodeUUID())

	var wg sync.WaitGroup
	cmds := make(chan string)
	go func() { // stdin is read until EOF; the reader is not waited for
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case cmds <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case line := <-cmds:
			wg.Add(1)
			go func() {
				defer wg.Done()
				command(ctx, node, line, o.originateLimit, out)
			}()
		}
	}
	stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = node.Close(stop)
	wg.Wait()
	if err != nil {
		fmt.Fprintf(stderr, "xrtc-node: stop: %v\n", err)
		return 1
	}
	return 0
}

// command runs one stdin command and prints its answer.
func command(ctx context.Context, node *testhost.Node, line string, limit time.Duration, out *lineWriter) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "originate":
		if len(f) < 3 {
			out.printf("originate ? error usage: originate <tag> <dial string> [echo|tone|silence]")
			return
		}
		app := testhost.AppEcho
		if len(f) > 3 {
			app = testhost.App(f[3])
		}
		octx, cancel := context.WithTimeout(ctx, limit)
		ch, err := node.Originate(octx, f[2], app)
		cancel()
		if err != nil {
			if ch != nil {
				ch.Hangup(verto.CauseNormalClearing)
			}
			out.printf("originate %s error %s", f[1], strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		out.printf("originate %s ok %s", f[1], ch.UUID())
	case "call":
		if len(f) < 3 {
			out.printf("call ? error usage: call <tag> <call uuid>")
			return
		}
		ci, ok := node.Endpoint.Call(f[2])
		if !ok {
			out.printf("call %s none", f[1])
			return
		}
		b, _ := json.Marshal(ci)
		out.printf("call %s %s", f[1], b)
	default:
		out.printf("%s ? error unknown command", f[0])
	}
}

// lineWriter writes whole lines from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
