package main

import (
	"context"
	"flag"
	"io"
	"sync"
	"time"

	"xccrtc/tools/client"
	"xccrtc/verto"
)

func runAnswer(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("answer", flag.ContinueOnError)
	var cf commonFlags
	var mf mediaFlags
	var ef expectFlags
	cf.register(fs)
	mf.register(fs, true)
	ef.register(fs)
	delay := fs.Duration("answer-delay", 500*time.Millisecond, "answer this long after the call rings")
	reject := fs.Bool("reject", false, "reject incoming calls instead of answering")
	rejectCause := fs.String("reject-cause", "CALL_REJECTED", "hang-up cause of --reject (name or number)")
	count := fs.Int("count", 0, "exit after this many calls ended (0: run until interrupted)")
	if _, code := parseArgs(fs, args, "answer", 0, stdout, stderr); code >= 0 {
		return code
	}
	con, opts, copts, ok := setupCall("answer", &cf, &mf, &ef, stdout, stderr)
	if !ok {
		return exitUsage
	}
	cause, ok := parseCause(*rejectCause)
	if !ok {
		con.errorf("answer: unknown cause %q", *rejectCause)
		return exitUsage
	}
	if *reject && ef.cause == "" {
		ef.cause = cause.String() // a rejected call succeeds with its cause
	}

	c, err := client.Dial(ctx, opts)
	if err != nil {
		con.errorf("%v", err)
		return exitFailure
	}
	defer c.Close()
	con.eventf("logged in as %s, sessid %s: waiting for calls", opts.Login, c.Sessid())

	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan client.Report)
	var wg sync.WaitGroup
	handle := func(call *client.Call) {
		defer wg.Done()
		r := answerOne(hctx, c, call, *reject, cause, *delay, copts, &mf, con)
		results <- r
	}
	ended, failed := 0, 0
	report := func(r client.Report) {
		ended++
		output(con, cf.json, r, r.String())
		if !ef.verdict(con, r) {
			failed++
		}
	}
loop:
	for *count == 0 || ended < *count {
		select {
		case call, ok := <-c.Incoming():
			if !ok {
				con.errorf("session ended: %v", c.Err())
				failed++
				break loop
			}
			wg.Add(1)
			go handle(call)
		case r := <-results:
			report(r)
		case <-ctx.Done():
			break loop
		}
	}
	cancel()
	go func() {
		wg.Wait()
		close(results)
	}()
	for r := range results {
		report(r)
	}
	return exitFor(failed == 0)
}

// answerOne answers (or rejects) one incoming call and follows it to its
// end.
func answerOne(ctx context.Context, c *client.Client, call *client.Call, reject bool, cause verto.Cause,
	delay time.Duration, copts client.CallOptions, mf *mediaFlags, con *console) client.Report {
	name, number := call.Remote()
	con.eventf("incoming call %s from %s <%s>", call.ID(), name, number)
	if reject {
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := call.Reject(rctx, cause); err != nil {
			con.errorf("reject: %v", err)
		}
		<-call.Done()
		return call.Report()
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-call.Done():
		return call.Report()
	case <-ctx.Done():
		hangup(call, con)
		<-call.Done()
		return call.Report()
	}
	if err := call.Answer(ctx, copts); err != nil {
		con.errorf("answer: %v", err)
		if ctx.Err() != nil {
			hangup(call, con)
		}
		<-call.Done()
		return call.Report()
	}
	follow(ctx, c, call, mf, con)
	return call.Report()
}
