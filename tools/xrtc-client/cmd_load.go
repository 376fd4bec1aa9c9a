package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"xccrtc/tools/client"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var cf commonFlags
	var mf mediaFlags
	cf.register(fs)
	mf.register(fs, false)
	calls := fs.Int("calls", 10, "N: most calls up at once")
	rate := fs.Float64("rate", 5, "R: new calls a second")
	duration := fs.Duration("duration", 30*time.Second, "D: how long the run lasts (calls are hung up at the end)")
	callDuration := fs.Duration("call-duration", 0, "hang each call up this long after answer and start another (default: hold to the end)")
	maxCalls := fs.Int("max-calls", 0, "start at most this many calls (0: no limit)")
	loginStart := fs.Int("login-start", 0, "first number put for {n} in --login (e.g. --login 'load{n}@example.com')")
	keep := fs.Bool("keep-reports", false, "with --json, include every call's report")
	pos, code := parseArgs(fs, args, "load DEST", 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	con := newConsole(stdout, stderr, &cf)
	opts, err := cf.options(stderr)
	if err != nil {
		con.errorf("load: %v", err)
		return exitUsage
	}
	opts.Reconnect = false // a lost socket is a failed call in a load
	copts, err := mf.callOptions()
	if err != nil {
		con.errorf("load: %v", err)
		return exitUsage
	}
	lo := client.LoadOptions{
		Client: opts, LoginStart: *loginStart, Destination: pos[0],
		Concurrency: *calls, Rate: *rate, Duration: *duration, CallDuration: *callDuration,
		MaxCalls: *maxCalls, Call: copts, KeepReports: *keep,
	}
	if con.tty {
		lo.Progress = func(p client.LoadProgress) { con.setStatus(progressBar(p)) }
	}
	con.eventf("load: %d calls at %.1f/s to %s for %s", *calls, *rate, pos[0], *duration)
	r, err := client.Load(ctx, lo)
	if err != nil {
		con.errorf("load: %v", err)
		return exitUsage
	}
	output(con, cf.json, r, r.String())
	return exitFor(r.Attempted > 0 && r.Failed == 0)
}

// progressBar draws a load's progress in one line.
func progressBar(p client.LoadProgress) string {
	const width = 30
	frac := 1.0
	if p.Duration > 0 && !p.Done {
		frac = min(1, float64(p.Elapsed)/float64(p.Duration))
	}
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %5.1f/%.0fs  started %d  up %d  ok %d  failed %d",
		strings.Repeat("#", n), strings.Repeat(".", width-n),
		p.Elapsed.Seconds(), p.Duration.Seconds(), p.Started, p.Active, p.Succeeded, p.Failed)
}
