// Command xrtc-natsd is a standalone NATS server with JetStream, built from
// ctrl/natsd (nats-server as a library): the bus of a test deployment whose
// parts run as separate processes, alone or as one member of a cluster.
// The chaos suite (tools/xrtc-chaos, tools/e2e) starts it, kills it
// (SIGKILL) and stops it (SIGTERM) for real.
//
//	xrtc-natsd --listen 127.0.0.1:4222 --store /var/lib/xrtc-nats --token-file nats.token
//	xrtc-natsd --listen 127.0.0.1:4222 --store s0 --name n0 --token-file t \
//	    --cluster xrtc --cluster-listen 127.0.0.1:6222 \
//	    --routes nats-route://127.0.0.1:6222,nats-route://127.0.0.1:6223,nats-route://127.0.0.1:6224
//
// Clients must give a token: --token, or --token-file (read, or generated
// and written with mode 0600 when the file does not exist); --open runs
// without authentication. Once it accepts clients it prints
// "xrtc-natsd ready <client URL>" on stdout. SIGTERM or SIGINT shuts it
// down cleanly (exit 0).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"xccrtc/ctrl/natsd"
	"xccrtc/natsauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xrtc-natsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o                      natsd.Options
		token, tokenFile       string
		open                   bool
		cluster, clusterListen string
		routes                 string
		startTimeout           time.Duration
	)
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "client `host:port`")
	fs.StringVar(&o.StoreDir, "store", "", "JetStream store `dir` (default: a temporary folder removed on exit)")
	fs.StringVar(&o.ServerName, "name", "xrtc-natsd", "server `name` (unique in a cluster)")
	fs.StringVar(&token, "token", "", "the `token` clients must give")
	fs.StringVar(&tokenFile, "token-file", "", "`file` of the token: read, or generated and written (mode 0600) if it does not exist")
	fs.BoolVar(&open, "open", false, "no authentication (anyone who reaches --listen may connect)")
	fs.StringVar(&cluster, "cluster", "", "cluster `name`: join a cluster (JetStream clustered); needs --cluster-listen and --routes")
	fs.StringVar(&clusterListen, "cluster-listen", "", "route `host:port` for the other members")
	fs.StringVar(&routes, "routes", "", "comma-separated `nats-route://host:port` of the members (this one may be listed)")
	fs.DurationVar(&startTimeout, "start-timeout", 10*time.Second, "how long to wait for the server to accept clients")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xrtc-natsd: unexpected arguments %q\n", fs.Args())
		return 2
	}
	tok, err := resolveToken(token, tokenFile, open)
	if err != nil {
		fmt.Fprintf(stderr, "xrtc-natsd: %v\n", err)
		return 2
	}
	o.Token = tok
	if cluster != "" {
		if clusterListen == "" || routes == "" {
			fmt.Fprintln(stderr, "xrtc-natsd: --cluster needs --cluster-listen and --routes")
			return 2
		}
		o.Cluster = &natsd.ClusterOptions{Name: cluster, Listen: clusterListen}
		for _, r := range strings.Split(routes, ",") {
			if r = strings.TrimSpace(r); r != "" {
				o.Cluster.Routes = append(o.Cluster.Routes, r)
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	s, err := natsd.Start(sctx, o)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "xrtc-natsd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "xrtc-natsd ready %s\n", s.ClientURL())
	<-ctx.Done()
	s.Close()
	fmt.Fprintln(stderr, "xrtc-natsd: stopped")
	return 0
}

// resolveToken returns the token clients must give ("" with open).
func resolveToken(token, file string, open bool) (string, error) {
	switch {
	case open && (token != "" || file != ""):
		return "", errors.New("--open and a token: choose one")
	case open:
		return "", nil
	case token != "" && file != "":
		return "", errors.New("--token and --token-file: choose one")
	case token != "":
		return token, nil
	case file == "":
		return "", errors.New("give --token, --token-file or --open")
	}
	tok, err := natsauth.ReadToken(file)
	if err == nil && tok != "" {
		return tok, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok = hex.EncodeToString(b[:])
	if err := natsauth.WriteToken(file, tok); err != nil {
		return "", err
	}
	return tok, nil
}
