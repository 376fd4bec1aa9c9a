// Command xctrl is XCtrl, the Verto WebSocket controller of xcc-rtc: it
// terminates browser WebSockets, logs users in and routes their calls over
// NATS to FreeSWITCH nodes running xrtc.
//
// With no flags it runs on an embedded default: an in-process NATS server
// (JetStream on) listening on 127.0.0.1:4222 so that nodes and other
// instances on this machine can join, and a WebSocket listener on
// 127.0.0.1:8081. See ctrl/README.md.
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
	"sort"
	"strings"
	"syscall"
	"time"

	"xccrtc/ctrl"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	config                                  string
	ws, wss, cert, key, metrics             string
	directory, defaultDomain                string
	nats, natsListen, natsStore             string
	ctrlUUID, subjectPrefix, rtcSubject     string
	bucket                                  string
	replicas                                int
	jwtSecret, xuiURL                       string
	jsapi, fsapi, pprof                     bool
	maxFrame, maxBatch, rateBurst, maxQueue int
	rate                                    float64
	failAddr, failUser                      int
	ping, nodeExpiry, drain                 time.Duration
	logLevel, logFormat                     string
}

func flags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.config, "config", "", "read flags from a JSON `file`: an object whose keys are flag names (without --) and whose values are strings, numbers, booleans (or a list of URLs for nats); flags on the command line win; unknown keys are errors")
	fs.StringVar(&o.ws, "ws-listen", "127.0.0.1:8081", "ws:// listener `host:port` (\"\" for none)")
	fs.StringVar(&o.wss, "wss-listen", "", "wss:// listener `host:port`; needs --cert and --key")
	fs.StringVar(&o.cert, "cert", "", "TLS certificate `file` (PEM) for --wss-listen")
	fs.StringVar(&o.key, "key", "", "TLS private key `file` (PEM) for --wss-listen")
	fs.StringVar(&o.metrics, "metrics-listen", "127.0.0.1:9466", "HTTP `host:port` serving /metrics (Prometheus) and /healthz (\"\" for none)")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go profiles (net/http/pprof) under /debug/pprof/ on --metrics-listen")
	fs.StringVar(&o.directory, "directory", "", "FreeSWITCH directory XML `file` for password logins (<document><section name=\"directory\">, a bare <domain> or an <include>)")
	fs.StringVar(&o.defaultDomain, "default-domain", "", "`domain` for logins without @domain")
	fs.StringVar(&o.nats, "nats", "", "join this NATS (`URL[,URL...]`, a cluster) instead of starting an embedded one")
	fs.StringVar(&o.natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS client `host:port` (nodes and other instances connect here)")
	fs.StringVar(&o.natsStore, "nats-store", "", "embedded NATS JetStream `dir` (default: a temporary folder removed on exit)")
	fs.StringVar(&o.ctrlUUID, "ctrl-uuid", "", "this instance's `uuid` on the bus (default: generated)")
	fs.StringVar(&o.subjectPrefix, "subject-prefix", "cn.xswitch", "root of the XCC NATS `subjects`")
	fs.StringVar(&o.rtcSubject, "rtc-subject", "", "queue `subject` of calls to WebRTC users (default <prefix>.ctrl.rtc)")
	fs.StringVar(&o.bucket, "registry-bucket", "xrtc_registry", "JetStream key-value `bucket` where every instance registers its logged-in sockets (the cross-instance user lookup)")
	fs.IntVar(&o.replicas, "registry-replicas", 1, "`replicas` of the registry bucket on a NATS cluster")
	fs.StringVar(&o.jwtSecret, "jwt-secret", "", "HS256 `secret` of loginParams.xcc_token (default: $XCTRL_JWT_SECRET; empty disables token logins)")
	fs.StringVar(&o.xuiURL, "xui-auth-url", "", "`URL` that checks loginParams.xui_sessid (POST JSON, 200 = accepted); empty disables")
	fs.BoolVar(&o.jsapi, "enable-jsapi", false, "relay jsapi to a node (off: -32601)")
	fs.BoolVar(&o.fsapi, "enable-fsapi", false, "relay fsapi to a node (off: -32601)")
	fs.IntVar(&o.maxFrame, "max-frame", 256<<10, "largest WebSocket frame in `bytes`; larger ones are answered with an error")
	fs.IntVar(&o.maxBatch, "max-batch", 32, "most `messages` in one batch frame")
	fs.Float64Var(&o.rate, "rate", 50, "messages per `second` one socket may send (sustained)")
	fs.IntVar(&o.rateBurst, "rate-burst", 100, "burst of `messages` above --rate")
	fs.IntVar(&o.maxQueue, "max-queue", 1024, "`messages` queued to a socket that does not read before it is dropped")
	fs.IntVar(&o.failAddr, "login-failures-addr", 20, "failed logins per address per minute before the address is refused for the rest of the minute")
	fs.IntVar(&o.failUser, "login-failures-user", 10, "failed logins per user per minute before the user is refused for the rest of the minute")
	fs.DurationVar(&o.ping, "ping-interval", 30*time.Second, "send verto.ping after this long without traffic")
	fs.DurationVar(&o.nodeExpiry, "node-expiry", 45*time.Second, "a node silent this long is dead: its calls end")
	fs.DurationVar(&o.drain, "drain-timeout", 10*time.Second, "on SIGTERM/SIGINT, how long to wait for sockets to close")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("xctrl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: xctrl [flags]\n\nXCtrl: the Verto WebSocket controller of xcc-rtc. With no flags it starts an\nembedded NATS (JetStream) on 127.0.0.1:4222 and listens for WebSockets on\nws://127.0.0.1:8081/.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var o options
	flags(fs, &o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "xctrl: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if o.config != "" {
		if err := applyConfigFile(fs, o.config); err != nil {
			fmt.Fprintf(stderr, "xctrl: %v\n", err)
			return 2
		}
	}
	log, err := logger(o.logLevel, o.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "xctrl: %v\n", err)
		return 2
	}
	cfg := o.config2()
	srv, err := ctrl.New(cfg, ctrl.Deps{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "xctrl: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = srv.Start(startCtx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "xctrl: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "xctrl %s\n", srv.CtrlUUID())
	if u := srv.WSURL(); u != "" {
		fmt.Fprintf(stdout, "  websocket  %s\n", u)
	}
	if a := srv.WSSAddr(); a != "" {
		fmt.Fprintf(stdout, "  websocket  wss://%s/\n", a)
	}
	embedded := "joined"
	if len(cfg.NATSURLs) == 0 {
		embedded = "embedded, JetStream on"
	}
	fmt.Fprintf(stdout, "  nats       %s (%s)\n", srv.NATSURL(), embedded)
	if a := srv.MetricsAddr(); a != "" {
		fmt.Fprintf(stdout, "  metrics    http://%s/metrics\n", a)
	}
	<-ctx.Done()
	log.Info("draining")
	start := time.Now()
	dctx, dcancel := context.WithTimeout(context.Background(), o.drain)
	defer dcancel()
	if err := srv.Shutdown(dctx); err != nil {
		log.Warn("drain cut short", "err", err)
	}
	log.Info("stopped", "drain", time.Since(start))
	return 0
}

func (o *options) config2() ctrl.Config {
	secret := o.jwtSecret
	if secret == "" {
		secret = os.Getenv("XCTRL_JWT_SECRET")
	}
	var urls []string
	for _, u := range strings.Split(o.nats, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return ctrl.Config{
		CtrlUUID: o.ctrlUUID, WSListen: o.ws, WSSListen: o.wss, CertFile: o.cert, KeyFile: o.key,
		MetricsListen: o.metrics, Pprof: o.pprof, DirectoryFile: o.directory, DefaultDomain: o.defaultDomain,
		JWTSecret: secret, XUIAuthURL: o.xuiURL, NATSURLs: urls, NATSListen: o.natsListen, NATSStoreDir: o.natsStore,
		SubjectPrefix: o.subjectPrefix, RTCSubject: o.rtcSubject, RegistryBucket: o.bucket, RegistryReplicas: o.replicas, EnableJSAPI: o.jsapi, EnableFSAPI: o.fsapi,
		Limits: ctrl.Limits{MaxFrameBytes: o.maxFrame, MaxBatch: o.maxBatch, RatePerSec: o.rate, RateBurst: o.rateBurst,
			MaxQueue: o.maxQueue, LoginFailuresPerAddr: o.failAddr, LoginFailuresPerUser: o.failUser},
		Timers: ctrl.Timers{Ping: o.ping, NodeExpiry: o.nodeExpiry},
	}
}

// applyConfigFile sets, from a JSON object, every flag not given on the
// command line.
func applyConfigFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if k == "config" || fs.Lookup(k) == nil {
			errs = append(errs, fmt.Errorf("%s: unknown key %q", path, k))
			continue
		}
		if given[k] {
			continue
		}
		v, err := flagValue(m[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, k, err))
			continue
		}
		if err := fs.Set(k, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, k, err))
		}
	}
	return errors.Join(errs...)
}

// flagValue turns a JSON value into a flag's text.
func flagValue(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, float64:
		return strings.TrimSpace(string(raw)), nil
	case []any:
		var parts []string
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return "", errors.New("a list must hold strings")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	}
	return "", errors.New("want a string, number, boolean or list of strings")
}

func logger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
