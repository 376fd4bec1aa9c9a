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
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"xccrtc/ctrl"
	"xccrtc/natsauth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	config                                  string
	ws, wss, cert, key, metrics             string
	directory, fsConf, defaultDomain        string
	fsVars                                  varList
	userLookup, forceDomain                 string
	blindReg                                bool
	trustedProxies                          list
	lookupTimeout                           time.Duration
	nats, natsListen, natsStore             string
	natsAuth                                natsauth.Auth
	natsOpen                                bool
	registryMemory                          bool
	ctrlUUID, subjectPrefix, rtcSubject     string
	bucket                                  string
	replicas                                int
	jwtSecret, xuiURL                       string
	jsapi, fsapi, pprof                     bool
	maxFrame, maxBatch, rateBurst, maxQueue int
	rate, inviteRate, loginRate, userRate   float64
	inviteBurst, loginBurst, userBurst      int
	userDataRate, userDataBurst             int
	castRate                                float64
	castBurst                               int
	failAddr, failUser                      int
	maxSockets, maxPreLogin, maxPerUser     int
	maxPreLoginFrame, maxQueuedTotalMiB     int
	maxSubs, maxSubsPerUser                 int
	maxCallsPerUser, sndbufKiB              int
	ping, nodeExpiry, drain, peerTimeout    time.Duration
	logLevel, logFormat                     string
}

func flags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.config, "config", "", "read flags from a JSON `file`: an object whose keys are flag names (without --) and whose values are strings, numbers, booleans, lists (nats, fs-var, trusted-proxy) or, for fs-var, an object of names to values; flags on the command line win; unknown keys are errors")
	fs.StringVar(&o.ws, "ws-listen", "127.0.0.1:8081", "ws:// listener `host:port` (\"\" for none)")
	fs.StringVar(&o.wss, "wss-listen", "", "wss:// listener `host:port`; needs --cert and --key")
	fs.StringVar(&o.cert, "cert", "", "TLS certificate `file` (PEM) for --wss-listen")
	fs.StringVar(&o.key, "key", "", "TLS private key `file` (PEM) for --wss-listen")
	fs.StringVar(&o.metrics, "metrics-listen", "127.0.0.1:9466", "HTTP `host:port` serving /metrics (Prometheus) and /healthz (\"\" for none)")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go profiles (net/http/pprof) under /debug/pprof/ on --metrics-listen")
	fs.StringVar(&o.fsConf, "fs-conf", "", "FreeSWITCH's configuration `folder`: read its freeswitch.xml as FreeSWITCH does (X-PRE-PROCESS include, set, $${vars}) and take the directory section for password logins")
	fs.StringVar(&o.directory, "directory", "", "a lone FreeSWITCH directory `file` for password logins, read with the same pre-processor (a <document>, a directory section, or the <domain>s FreeSWITCH includes into one)")
	fs.Var(&o.fsVars, "fs-var", "FreeSWITCH global variable `name=value` for $${name}, winning over the files' set (repeatable): what XCtrl cannot see, e.g. local_ip_v4 of a FreeSWITCH on another machine, or vars.xml's domain for --directory")
	fs.StringVar(&o.userLookup, "user-lookup", "files", "where users come from: files (--fs-conf or --directory) or node (ask a FreeSWITCH node running mod_xrtc over NATS, whatever its directory backend: XML, mod_xml_curl, Lua, ODBC)")
	fs.DurationVar(&o.lookupTimeout, "user-lookup-timeout", 3*time.Second, "with --user-lookup node: how long a login waits for the node's answer")
	fs.StringVar(&o.defaultDomain, "default-domain", "", "`domain` for logins without @domain")
	fs.StringVar(&o.forceDomain, "force-register-domain", "", "mod_verto's force-register-domain: every login's `domain` is this one, whatever the login says")
	fs.BoolVar(&o.blindReg, "blind-reg", false, "mod_verto's blind-reg: logins the directory does not know are accepted with any password (no directory data, no restrictions); known users still need their passwords")
	fs.Var(&o.trustedProxies, "trusted-proxy", "`IP or CIDR` of an HTTP proxy in front of XCtrl whose X-Forwarded-For / X-Real-IP name the client's address (repeatable, or comma separated)")
	fs.StringVar(&o.nats, "nats", "", "join this NATS (`URL[,URL...]`, a cluster) instead of starting an embedded one")
	fs.StringVar(&o.natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS client `host:port` (nodes and other instances connect here)")
	fs.StringVar(&o.natsStore, "nats-store", "", "embedded NATS JetStream `dir` (default: a temporary folder removed on exit)")
	fs.StringVar(&o.natsAuth.User, "nats-user", "", "NATS `user` (with --nats-password)")
	fs.StringVar(&o.natsAuth.Password, "nats-password", "", "NATS `password` (default: $XCTRL_NATS_PASSWORD)")
	fs.StringVar(&o.natsAuth.Token, "nats-token", "", "NATS `token` (default: $XCTRL_NATS_TOKEN); with the embedded server, the token it requires (default: a random one)")
	fs.StringVar(&o.natsAuth.TokenFile, "nats-token-file", "", "`file` of the NATS token: read when joining a NATS; written (mode 0600) by the embedded server for the nodes on this machine (default: <nats-store>/nats.token, else ~/.config/xcc-rtc/nats.token)")
	fs.StringVar(&o.natsAuth.NKeySeedFile, "nats-nkey", "", "`file` holding an nkey user seed (SU...)")
	fs.StringVar(&o.natsAuth.CredsFile, "nats-creds", "", "NATS credentials `file` (user JWT and seed)")
	fs.StringVar(&o.natsAuth.TLSCA, "nats-tls-ca", "", "CA `file` (PEM) that verifies the NATS server (turns TLS on)")
	fs.StringVar(&o.natsAuth.TLSCert, "nats-tls-cert", "", "client certificate `file` (PEM) for NATS, with --nats-tls-key")
	fs.StringVar(&o.natsAuth.TLSKey, "nats-tls-key", "", "client key `file` (PEM) for NATS")
	fs.BoolVar(&o.natsOpen, "nats-open", false, "run the embedded NATS without authentication (anyone who reaches --nats-listen may join)")
	fs.BoolVar(&o.registryMemory, "registry-memory", false, "keep the registry bucket in memory (default: file storage where JetStream has it)")
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
	fs.Float64Var(&o.userRate, "user-rate", 200, "messages per `second` one login may send, all its sockets on this instance together (sustained; negative: no bound)")
	fs.IntVar(&o.userBurst, "user-rate-burst", 2000, "burst of `messages` above --user-rate")
	fs.IntVar(&o.userDataRate, "user-data-rate", 1024, "`KiB` per second one login may send, all its sockets on this instance together (sustained; negative: no bound)")
	fs.IntVar(&o.userDataBurst, "user-data-burst", 8192, "burst of `KiB` above --user-data-rate (at least --max-frame)")
	fs.Float64Var(&o.loginRate, "login-rate-per-user", 10, "logins per `second` one login may make, all its sockets on this instance together (sustained; negative: no bound)")
	fs.IntVar(&o.loginBurst, "login-burst-per-user", 300, "burst of `logins` above --login-rate-per-user")
	fs.Float64Var(&o.inviteRate, "invite-rate-per-user", 5, "verto.invite per `second` one login may send, all its sockets on this instance together (sustained; negative: no bound)")
	fs.IntVar(&o.inviteBurst, "invite-burst-per-user", 20, "burst of `invites` above --invite-rate-per-user")
	fs.IntVar(&o.maxCallsPerUser, "max-calls-per-user", 32, "`calls` one login may hold through this instance at once (placed, answered or taken back); past it an invite is refused (negative: no bound)")
	fs.Float64Var(&o.castRate, "broadcast-rate-per-user", 5, "verto.broadcast per `second` one login may send, all its sockets on this instance together (sustained; negative: no bound): each reaches every subscriber of its channel")
	fs.IntVar(&o.castBurst, "broadcast-burst-per-user", 50, "burst of `broadcasts` above --broadcast-rate-per-user")
	fs.IntVar(&o.maxQueue, "max-queue", 1024, "`messages` queued to a socket that does not read before it is dropped")
	fs.IntVar(&o.maxSubs, "max-subscriptions", 1024, "event `channels` one socket may subscribe")
	fs.IntVar(&o.maxSubsPerUser, "max-subscriptions-per-user", 4096, "event `channels` one login may subscribe, all its sockets on this instance together (negative: no bound)")
	fs.IntVar(&o.sndbufKiB, "socket-send-buffer", 64, "`KiB` of kernel send buffer (SO_SNDBUF) per client socket; what a socket does not take waits in XCtrl's queue (negative: the kernel's own, which grows to 4 MiB for a client that once read fast)")
	fs.IntVar(&o.maxQueuedTotalMiB, "max-queued-total", 512, "`MiB` of frames XCtrl holds for all sockets together; past it a socket more than 64 KiB behind is dropped (negative: no bound)")
	fs.IntVar(&o.maxSockets, "max-sockets", 0, "client `connections` held at once (ws and wss, logged in or not); more are closed as they come (0: the open-file limit less a reserve of an eighth, 64 to 1,024, for NATS, JetStream and --metrics-listen)")
	fs.IntVar(&o.maxPreLogin, "max-prelogin-per-addr", 0, "client `connections` from one address (an IPv6 /64; behind --trusted-proxy, the forwarded one) that have not logged in; more are closed as they come (0: 256, or a quarter of --max-sockets when less)")
	fs.IntVar(&o.maxPreLoginFrame, "max-prelogin-frame", 16<<10, "frame size cap in `bytes` of a socket that has not logged in (a login is small; --max-frame after login)")
	fs.IntVar(&o.maxPerUser, "max-sockets-per-user", 256, "logged-in `sockets` one login may hold on this instance; past it a login is refused (negative: no bound)")
	fs.IntVar(&o.failAddr, "login-failures-addr", 20, "failed logins per address (an IPv6 /64) per minute before the address is refused for the rest of the minute")
	fs.IntVar(&o.failUser, "login-failures-user", 10, "failed logins per user per minute before the user is refused for the rest of the minute")
	fs.DurationVar(&o.ping, "ping-interval", 30*time.Second, "send verto.ping after this long without traffic, and a WebSocket ping after this long without anything from the client")
	fs.DurationVar(&o.peerTimeout, "peer-timeout", 90*time.Second, "close a logged-in socket nothing came from for this long, the pongs to the WebSocket pings included (a peer that vanished); at least twice --ping-interval")
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
	// SIGHUP reads the directory again (or drops the users cached from
	// nodes); a broken file keeps the old users, and says where.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading users and the wss certificate")
				_ = srv.Reload()
			case <-ctx.Done():
				return
			}
		}
	}()
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
	fmt.Fprintf(stdout, "  nats       %s (%s)\n", srv.NATSURLRedacted(), embedded)
	if cfg.NATSTokenFile != "" {
		fmt.Fprintf(stdout, "  nats token %s (nodes: <param name=\"nats-token-file\" value=\"%s\"/>)\n", cfg.NATSTokenFile, cfg.NATSTokenFile)
	}
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
	auth := o.natsAuth
	if auth.Password == "" {
		auth.Password = os.Getenv("XCTRL_NATS_PASSWORD")
	}
	if auth.Token == "" && auth.TokenFile == "" {
		auth.Token = os.Getenv("XCTRL_NATS_TOKEN")
	}
	tokenFile := ""
	if len(urls) == 0 && !o.natsOpen {
		// The embedded server writes its token where local nodes read it.
		tokenFile = auth.TokenFile
		auth.TokenFile = ""
		if tokenFile == "" {
			tokenFile = defaultTokenFile(o.natsStore)
		}
	}
	return ctrl.Config{
		NATSAuth: auth, NATSTokenFile: tokenFile, NATSOpen: o.natsOpen, RegistryMemory: o.registryMemory,
		CtrlUUID: o.ctrlUUID, WSListen: o.ws, WSSListen: o.wss, CertFile: o.cert, KeyFile: o.key,
		MetricsListen: o.metrics, Pprof: o.pprof, FSConfDir: o.fsConf, DirectoryFile: o.directory, FSVars: o.fsVars.m, UserLookup: o.userLookup,
		DefaultDomain: o.defaultDomain, ForceRegisterDomain: o.forceDomain, BlindReg: o.blindReg, TrustedProxies: o.trustedProxies,
		JWTSecret: secret, XUIAuthURL: o.xuiURL, NATSURLs: urls, NATSListen: o.natsListen, NATSStoreDir: o.natsStore,
		SubjectPrefix: o.subjectPrefix, RTCSubject: o.rtcSubject, RegistryBucket: o.bucket, RegistryReplicas: o.replicas, EnableJSAPI: o.jsapi, EnableFSAPI: o.fsapi,
		Limits: ctrl.Limits{MaxFrameBytes: o.maxFrame, MaxBatch: o.maxBatch, RatePerSec: o.rate, RateBurst: o.rateBurst,
			MaxQueue: o.maxQueue, MaxQueuedTotal: mib(o.maxQueuedTotalMiB), MaxSubscriptions: o.maxSubs,
			SocketSendBuffer:        kib(o.sndbufKiB),
			MaxSubscriptionsPerUser: o.maxSubsPerUser, LoginFailuresPerAddr: o.failAddr, LoginFailuresPerUser: o.failUser,
			MaxSockets: o.maxSockets, MaxPreLoginPerAddr: o.maxPreLogin, MaxSocketsPerUser: o.maxPerUser,
			MaxPreLoginFrameBytes: o.maxPreLoginFrame,
			InviteRatePerUser:     o.inviteRate, InviteBurstPerUser: o.inviteBurst, MaxCallsPerUser: o.maxCallsPerUser,
			BroadcastRatePerUser: o.castRate, BroadcastBurstPerUser: o.castBurst,
			LoginRatePerUser: o.loginRate, LoginBurstPerUser: o.loginBurst,
			UserRatePerSec: o.userRate, UserRateBurst: o.userBurst,
			UserBytesPerSec: float64(kib(o.userDataRate)), UserBytesBurst: kib(o.userDataBurst)},
		Timers: ctrl.Timers{Ping: o.ping, PeerTimeout: o.peerTimeout, NodeExpiry: o.nodeExpiry, UserLookup: o.lookupTimeout},
	}
}

// defaultTokenFile is where the embedded server's token goes by default.
func defaultTokenFile(store string) string {
	if store != "" {
		return filepath.Join(store, "nats.token")
	}
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "xcc-rtc", "nats.token")
	}
	return filepath.Join(os.TempDir(), "xcc-rtc-nats.token")
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
		vs, err := flagValues(m[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, k, err))
			continue
		}
		if _, rep := fs.Lookup(k).Value.(repeatable); !rep {
			vs = []string{strings.Join(vs, ",")}
		}
		for _, v := range vs {
			if err := fs.Set(k, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s: %w", path, k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// flagValues turns a JSON value into a flag's text: one, or one per list
// element.
func flagValues(raw json.RawMessage) ([]string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case bool, float64:
		return []string{strings.TrimSpace(string(raw))}, nil
	case []any:
		var parts []string
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, errors.New("a list must hold strings")
			}
			parts = append(parts, s)
		}
		return parts, nil
	case map[string]any: // {"fs-var": {"domain": "example.com"}}
		var parts []string
		for k, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, errors.New("an object must map names to strings")
			}
			parts = append(parts, k+"="+s)
		}
		sort.Strings(parts)
		return parts, nil
	}
	return nil, errors.New("want a string, number, boolean, list of strings or object of strings")
}

// repeatable flags take a JSON list element by element.
type repeatable interface{ repeatable() }

// list is a repeatable flag of values, each possibly comma separated.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) repeatable()    {}
func (l *list) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// varList is the repeatable --fs-var name=value (a value may hold commas).
type varList struct{ m map[string]string }

func (v *varList) String() string {
	if v == nil {
		return ""
	}
	parts := make([]string, 0, len(v.m))
	for k, x := range v.m {
		parts = append(parts, k+"="+x)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
func (v *varList) repeatable() {}
func (v *varList) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	if v.m == nil {
		v.m = map[string]string{}
	}
	v.m[strings.TrimSpace(name)] = value
	return nil
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

// kib is n KiB in bytes; a negative n stays negative (the kernel's own).
func kib(n int) int {
	if n < 0 {
		return -1
	}
	return n << 10
}

// mib is n MiB in bytes; a negative n stays negative (no bound).
func mib(n int) int {
	if n < 0 {
		return -1
	}
	return n << 20
}
