// Command xrtc-conf checks, shows, converts and creates xcc-rtc.conf.xml, the
// configuration of the xrtc FreeSWITCH endpoint, and explains xrtc dial
// strings.
//
//	xrtc-conf validate [--strict] [--var k=v]... FILE...
//	xrtc-conf show [--json] [--var k=v]... FILE
//	xrtc-conf convert [-o OUT] [--keep-names] verto.conf.xml
//	xrtc-conf init [-o FILE] [--force]
//	xrtc-conf dial [--config FILE] [--var k=v]... [--domain D] DIALSTRING
//
// Problems go to stderr as file:line: profile "x" param "y": message. Exit
// status: 0 success (warnings allowed; validate --strict fails on them), 1
// invalid input or failure, 2 usage.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// command is one subcommand: its flags are defined on fs by setup, which
// returns the function that runs it on the positional arguments.
type command struct {
	name, args, summary string
	setup               func(fs *flag.FlagSet, out, errOut io.Writer) func(args []string) int
}

var commands = []command{
	{"validate", "[--strict] [--var k=v]... FILE...", "check files; every problem is printed", setupValidate},
	{"show", "[--json] [--var k=v]... FILE", "print the effective configuration, defaults filled in", setupShow},
	{"convert", "[-o OUT] [--keep-names] verto.conf.xml", "turn a mod_verto verto.conf.xml into xcc-rtc.conf.xml", setupConvert},
	{"init", "[-o FILE] [--force]", "write a commented sample xcc-rtc.conf.xml", setupInit},
	{"dial", "[--config FILE] [--var k=v]... [--domain D] DIALSTRING", "parse an xrtc dial string and print it as JSON", setupDial},
}

// run is the whole command: args without the program name.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet("xrtc-conf "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		exec := c.setup(fs, stdout, stderr)
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "usage: xrtc-conf %s %s\n\n%s.\n\nflags:\n", c.name, c.args, capitalize(c.summary))
			fs.PrintDefaults()
		}
		if wantsHelp(args[1:]) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		pos, err := parseInterspersed(fs, args[1:])
		if err != nil {
			return exitUsage // flag has printed the error and the usage
		}
		return exec(pos)
	}
	fmt.Fprintf(stderr, "xrtc-conf: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: xrtc-conf COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun xrtc-conf COMMAND --help for the flags of a command.")
}

// wantsHelp reports whether -h, -help or --help comes before any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments ("show FILE --json"); everything after "--" is
// positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// varsFlag collects repeated --var name=value flags: FreeSWITCH global
// variables used to resolve $${name} references.
type varsFlag map[string]string

func (v varsFlag) String() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k+"="+v[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (v varsFlag) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[k] = val
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fail prints an error as "xrtc-conf CMD: err" and returns exitFail.
func fail(w io.Writer, cmd string, err error) int {
	fmt.Fprintf(w, "xrtc-conf %s: %v\n", cmd, err)
	return exitFail
}
