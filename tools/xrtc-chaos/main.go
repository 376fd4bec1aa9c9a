// Command xrtc-chaos runs the chaos suite of xcc-rtc at full scale and
// prints what survived: for each scenario the calls kept and lost (counted
// from the clients' RTP, not from signalling), how long until new calls
// were served again, and notes. Every part runs as its own process on
// 127.0.0.1 (xrtc-natsd, xctrl, xrtc-node), so that SIGKILL is real; the
// clients (tools/client, real DTLS-SRTP audio) run in this process.
//
//	xrtc-chaos                          # every scenario at full scale
//	xrtc-chaos --scenarios node-kill,nats-down --outage 20s
//	xrtc-chaos --small                  # the scale of go test ./tools/e2e
//	xrtc-chaos --list
//
// The commands are taken from --bin (default: the folder of this
// executable), else built with `go build` (run it inside the module).
// The exit status is 1 when a scenario lost a call or failed, 0 otherwise;
// a recovery over 2 s shows as "slow" in the table. `make chaos` runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"xccrtc/tools/e2e/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xrtc-chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sc := chaos.Full
	var (
		names, bin, dir string
		small, list     bool
		asJSON, verbose bool
		keep            bool
		timeout         time.Duration
	)
	fs.StringVar(&names, "scenarios", "", "comma-separated `names` to run (default: all; see --list)")
	fs.BoolVar(&list, "list", false, "list the scenarios and exit")
	fs.BoolVar(&small, "small", false, "run at the scale of the end-to-end tests")
	fs.IntVar(&sc.Calls, "calls", sc.Calls, "answered calls with audio when the fault comes")
	fs.IntVar(&sc.Idle, "idle", sc.Idle, "logged-in sockets without a call (NATS and cluster scenarios)")
	fs.IntVar(&sc.Sockets, "sockets", sc.Sockets, "sockets that never log in")
	fs.IntVar(&sc.Flood, "flood", sc.Flood, "sockets flooding garbage")
	fs.IntVar(&sc.Logins, "logins", sc.Logins, "logins while a NATS cluster member dies")
	fs.DurationVar(&sc.Outage, "outage", sc.Outage, "how long NATS stays down (nats-down)")
	fs.StringVar(&bin, "bin", "", "`folder` holding xctrl, xrtc-natsd and xrtc-node (default: this executable's folder, else go build)")
	fs.StringVar(&dir, "dir", "", "working `folder` for stores and logs (default: a temporary one, removed unless --keep)")
	fs.BoolVar(&keep, "keep", false, "keep the working folder (the processes' logs)")
	fs.BoolVar(&asJSON, "json", false, "print the results as JSON instead of a table")
	fs.BoolVar(&verbose, "v", false, "log the harness's progress on stderr")
	fs.DurationVar(&timeout, "timeout", 30*time.Minute, "bound on the whole run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if list {
		for _, s := range chaos.Scenarios() {
			fmt.Fprintf(stdout, "%-26s %s\n", s.Name, s.About)
		}
		return 0
	}
	if small {
		sc = chaos.Small
	}
	var todo []chaos.Scenario
	if names == "" {
		todo = chaos.Scenarios()
	} else {
		for _, n := range strings.Split(names, ",") {
			s, ok := chaos.Lookup(strings.TrimSpace(n))
			if !ok {
				fmt.Fprintf(stderr, "xrtc-chaos: no scenario %q (--list)\n", n)
				return 2
			}
			todo = append(todo, s)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "xrtc-chaos-")
		if err != nil {
			fmt.Fprintf(stderr, "xrtc-chaos: %v\n", err)
			return 1
		}
		dir = d
		if !keep {
			defer os.RemoveAll(d)
		}
	}
	bins, err := findBins(ctx, bin, dir)
	if err != nil {
		fmt.Fprintf(stderr, "xrtc-chaos: %v\n", err)
		return 1
	}
	host, _ := os.Hostname()
	fmt.Fprintf(stderr, "xrtc-chaos: %d scenario(s) on %s (%d CPUs, %s/%s), working in %s\n", len(todo), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, dir)
	var results []chaos.Result
	failed := false
	for _, s := range todo {
		fmt.Fprintf(stderr, "== %s: %s\n", s.Name, s.About)
		r := s.Run(ctx, chaos.Env{Bins: bins, Dir: dir, Scale: sc, Log: log})
		fmt.Fprintln(stderr, r.String())
		results = append(results, r)
		failed = failed || !r.OK()
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
	} else {
		chaos.Table(stdout, results)
	}
	if keep {
		fmt.Fprintf(stderr, "xrtc-chaos: logs kept in %s\n", dir)
	}
	if failed {
		return 1
	}
	return 0
}

// findBins returns the commands: in bin, else next to this executable,
// else built into dir.
func findBins(ctx context.Context, bin, dir string) (chaos.Bins, error) {
	if bin != "" {
		b := chaos.BinsIn(bin)
		if !b.Found() {
			return b, fmt.Errorf("--bin %s: want xctrl, xrtc-natsd and xrtc-node there", bin)
		}
		return b, nil
	}
	if exe, err := os.Executable(); err == nil {
		if b := chaos.BinsIn(filepath.Dir(exe)); b.Found() {
			return b, nil
		}
	}
	return chaos.Build(ctx, filepath.Join(dir, "bin"), false)
}
