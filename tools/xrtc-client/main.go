// Command xrtc-client is a headless Verto client (pion/webrtc) for QA and
// tests: it calls, answers, joins conferences and loads XCtrl or a stock
// FreeSWITCH mod_verto with real audio, and reports what it measured.
//
//	xrtc-client call DEST --url URL --login USER@DOMAIN --passwd PW [--duration D] [--json]
//	xrtc-client answer --url URL --login USER@DOMAIN --passwd PW [--json]
//	xrtc-client conference DEST --url URL --login USER@DOMAIN --passwd PW [--chat MSG]
//	xrtc-client load DEST --url URL --login USER@DOMAIN --passwd PW --calls N --rate R --duration D
//
// See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0 // the run did what was asked
	exitFailure = 1 // a call failed (not answered, refused, lost)
	exitUsage   = 2 // bad command line
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args. SIGINT and SIGTERM end it cleanly: calls
// are hung up and the report is still printed.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"call", "DEST", "call DEST with audio, report and hang up", runCall},
	{"answer", "", "stay logged in and answer (or reject) incoming calls", runAnswer},
	{"conference", "DEST", "join conference DEST and follow its member list and chat", runConference},
	{"load", "DEST", "N concurrent calls to DEST at R calls/s for D", runLoad},
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "xrtc-client: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xrtc-client COMMAND [ARGS] [FLAGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A headless Verto client (pion/webrtc) for XCtrl or FreeSWITCH mod_verto.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %-5s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "xrtc-client COMMAND --help shows the flags of a command.")
}
