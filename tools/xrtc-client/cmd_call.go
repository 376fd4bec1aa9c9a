package main

import (
	"context"
	"flag"
	"io"

	"xccrtc/tools/client"
)

func runCall(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	var cf commonFlags
	var mf mediaFlags
	var ef expectFlags
	cf.register(fs)
	mf.register(fs, true)
	ef.register(fs)
	pos, code := parseArgs(fs, args, "call DEST", 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	dest := pos[0]
	con, opts, copts, ok := setupCall("call", &cf, &mf, &ef, stdout, stderr)
	if !ok {
		return exitUsage
	}

	c, err := client.Dial(ctx, opts)
	if err != nil {
		con.errorf("%v", err)
		r := failedReport(dest, err)
		output(con, cf.json, r, r.String())
		return exitFor(ef.verdict(con, r))
	}
	defer c.Close()
	con.eventf("logged in as %s, sessid %s", opts.Login, c.Sessid())

	call, err := c.Call(ctx, dest, copts)
	if err != nil {
		con.errorf("%v", err)
		r := failedReport(dest, err)
		output(con, cf.json, r, r.String())
		return exitFor(ef.verdict(con, r))
	}
	if err := call.WaitAnswered(ctx); err != nil {
		if ctx.Err() != nil {
			hangup(call, con)
		}
		<-call.Done()
		r := call.Report()
		output(con, cf.json, r, r.String())
		return exitFor(ef.verdict(con, r))
	}
	follow(ctx, c, call, &mf, con)
	r := call.Report()
	output(con, cf.json, r, r.String())
	return exitFor(ef.verdict(con, r))
}
