package ctrl

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"xccrtc/conf"
	"xccrtc/ctrl/natsd"
	"xccrtc/natsauth"
	"xccrtc/verto"
)

// Deps are the parts a caller may supply instead of the defaults.
type Deps struct {
	// Logger; nil logs nothing below warnings to stderr.
	Logger *slog.Logger
	// Users backs password logins; nil follows Config (FSConfDir,
	// DirectoryFile, or UserLookup node).
	Users UserStore
	// Auth replaces the standard Authenticator entirely.
	Auth Authenticator
	// Bus and Registry replace NATS; both or neither. CallBook goes with
	// them (nil: in memory).
	Bus      Bus
	Registry Registry
	CallBook CallBook
	// HTTPClient is used for xui_sessid checks.
	HTTPClient *http.Client
}

// Server is one XCtrl instance.
type Server struct {
	cfg  Config
	log  *slog.Logger
	uuid string
	// uuidJSON is the ctrl_uuid as a JSON string, stamped on every relay.
	uuidJSON []byte
	subj     verto.Subjects
	lim      verto.Limits
	auth     Authenticator
	deps     Deps
	users    UserStore // the store logins use (nil: none), for ReloadUsers
	proxies  proxies

	natsd     *natsd.Server
	natsToken string // the embedded server's token
	nbus      *natsBus
	bus       Bus
	reqs      *Requests
	reg       Registry
	kvreg     *KVRegistry // reg, when it is the JetStream one
	registrar *Registrar
	book      CallBook
	kvbook    *KVCallBook // book, when it is the JetStream one
	keeper    *bookKeeper

	nodes    *NodeTable
	router   *Router
	sessions *Sessions
	metrics  *Metrics
	byAddr   *Throttle
	byUser   *Throttle
	invites  *keyedRate // verto.invite per login
	casts    *keyedRate // verto.broadcast per login
	logins   *keyedRate // successful logins per login
	userMsgs *userRates // messages per login
	// queued: bytes queued to all sockets (Limits.MaxQueuedTotal).
	queued atomic.Int64
	// slowWarned: sockets dropped for their send queue, logged.
	slowWarned logEvery
	// callsWarned: invites refused at Limits.MaxCallsPerUser, logged.
	callsWarned logEvery
	// loginWarned: refusals a client may repeat without end, logged once
	// in 10 s each.
	loginWarned struct{ badIdent, throttled, tooMany, undecided, lookup logEvery }
	upgrader    ws.HTTPUpgrader // wss://
	// wsUpgrader upgrades ws:// handshakes on the accepted connections.
	wsUpgrader ws.Upgrader
	poller     *poller // nil: a reader goroutine per socket
	gate       *gate   // bounds the client connections (Start)
	nofile     uint64  // the open-file limit (Start)

	wsAddr, wssAddr, metricsAddr string
	certs                        *certStore // the wss:// certificate (nil: no wss)
	https                        []*http.Server
	wsLns                        []net.Listener // accepted by acceptWS
	subs                         []Subscription

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // sockets and background loops
	loops  sync.WaitGroup
	// loopsMu guards loopsDone: once stop waits for the loops, goLoop
	// starts none.
	loopsMu   sync.Mutex
	loopsDone bool

	started  atomic.Bool
	draining atomic.Bool
	openMu   sync.Mutex // orders opening a socket against Shutdown (openSocket)
	stopOnce sync.Once
}

// New checks cfg and prepares a server; Start runs it.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if (deps.Bus == nil) != (deps.Registry == nil) {
		return nil, fmt.Errorf("%w: Deps.Bus and Deps.Registry go together", ErrConfig)
	}
	if cfg.CtrlUUID == "" {
		cfg.CtrlUUID = NewUUID()
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Server{
		cfg:      cfg,
		log:      log.With("ctrl_uuid", cfg.CtrlUUID),
		uuid:     cfg.CtrlUUID,
		subj:     verto.Subjects{Prefix: cfg.SubjectPrefix},
		lim:      verto.Limits{MaxBytes: cfg.Limits.MaxFrameBytes, MaxBatch: cfg.Limits.MaxBatch, MaxParams: verto.MaxClientParams},
		deps:     deps,
		nodes:    NewNodeTable(cfg.Timers.NodeExpiry),
		router:   NewRouter(),
		sessions: NewSessions(),
		byAddr:   NewThrottle(cfg.Limits.LoginFailuresPerAddr, cfg.Limits.LoginFailureWindow),
		byUser:   NewThrottle(cfg.Limits.LoginFailuresPerUser, cfg.Limits.LoginFailureWindow),
		invites:  newKeyedRate(cfg.Limits.InviteRatePerUser, cfg.Limits.InviteBurstPerUser),
		casts:    newKeyedRate(cfg.Limits.BroadcastRatePerUser, cfg.Limits.BroadcastBurstPerUser),
		logins:   newKeyedRate(cfg.Limits.LoginRatePerUser, cfg.Limits.LoginBurstPerUser),
		userMsgs: newUserRates(cfg.Limits.UserRatePerSec, cfg.Limits.UserRateBurst, cfg.Limits.UserBytesPerSec, cfg.Limits.UserBytesBurst),
	}
	s.metrics = newMetrics(s)
	s.uuidJSON = jsonString(cfg.CtrlUUID)
	s.proxies, _ = parseProxies(cfg.TrustedProxies) // Validate checked them
	s.users = deps.Users
	if s.users == nil {
		switch {
		case cfg.UserLookup == UserLookupNode:
			s.users = newNodeStore(s)
			s.log.Info("users are looked up by FreeSWITCH nodes (xrtc.lookupUser)", "subject", s.subj.AnyNode())
		case cfg.FSConfDir != "" || cfg.DirectoryFile != "":
			dir, err := loadDirectory(cfg, s.log)
			if err != nil {
				return nil, err
			}
			s.users = NewDirectoryStore(dir, func() (*conf.Directory, error) { return loadDirectory(cfg, s.log) })
		}
	}
	if cfg.BlindReg {
		s.log.Warn("blind-reg: logins the directory does not know are accepted with any password")
	}
	if deps.Auth != nil {
		s.auth = deps.Auth
	} else {
		a := &Auth{Users: s.users, DefaultDomain: cfg.DefaultDomain, ForceRegisterDomain: cfg.ForceRegisterDomain,
			BlindReg: cfg.BlindReg, Log: s.log, warned: &s.loginWarned.lookup}
		if cfg.JWTSecret != "" {
			a.JWT = NewJWTVerifier(cfg.JWTSecret)
		}
		if cfg.XUIAuthURL != "" {
			a.XUI = NewXUIChecker(cfg.XUIAuthURL, deps.HTTPClient, cfg.Timers.Auth)
		}
		s.auth = a
	}
	return s, nil
}

// ReloadUsers reads the directory files again (Reload, SIGHUP), or drops the
// answers cached from nodes. A directory with errors keeps the old users;
// every problem is logged with its file and line. Logged-in sockets stay.
func (s *Server) ReloadUsers() error {
	r, ok := s.users.(Reloader)
	if !ok {
		return nil
	}
	if err := r.Reload(); err != nil {
		s.log.Error("users not reloaded: the old ones stay", "err", err)
		return err
	}
	s.log.Info("users reloaded")
	return nil
}

// Reload is what SIGHUP does: the users read again (ReloadUsers) and the
// wss:// certificate read again from its files (a renewal). What does not
// load keeps what is in use; the errors are joined.
func (s *Server) Reload() error {
	err := s.ReloadUsers()
	if s.certs != nil {
		err = errors.Join(err, s.certs.Reload())
	}
	return err
}

// CtrlUUID is this instance's id on the bus.
func (s *Server) CtrlUUID() string { return s.uuid }

// Config returns the effective (defaulted) configuration.
func (s *Server) Config() Config { return s.cfg }

// WSAddr is the ws:// listener's address after Start ("" if none).
func (s *Server) WSAddr() string { return s.wsAddr }

// WSURL is the ws:// URL clients connect to.
func (s *Server) WSURL() string {
	if s.wsAddr == "" {
		return ""
	}
	return "ws://" + s.wsAddr + "/"
}

// WSSAddr is the wss:// listener's address after Start ("" if none).
func (s *Server) WSSAddr() string { return s.wssAddr }

// MetricsAddr is the metrics listener's address after Start ("" if none).
func (s *Server) MetricsAddr() string { return s.metricsAddr }

// NATSURL is the URL of the NATS server in use: the embedded one's client
// URL, or the first configured URL.
func (s *Server) NATSURL() string {
	if s.natsd != nil {
		u := s.natsd.ClientURL()
		if s.natsToken != "" {
			u = strings.Replace(u, "://", "://"+s.natsToken+"@", 1)
		}
		return u
	}
	if s.nbus != nil {
		return s.nbus.conn().ConnectedUrl()
	}
	if len(s.cfg.NATSURLs) > 0 {
		return s.cfg.NATSURLs[0]
	}
	return ""
}

// Nodes returns the alive nodes this instance knows.
func (s *Server) Nodes() []verto.Node { return s.nodes.Nodes(time.Now()) }

// WaitNodes blocks until cond holds for the alive nodes, or ctx ends.
func (s *Server) WaitNodes(ctx context.Context, cond func([]verto.Node) bool) error {
	for {
		ch := s.nodes.Changed()
		if cond(s.nodes.Nodes(time.Now())) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SessidsOf returns the sessids of a user's sockets on this instance.
func (s *Server) SessidsOf(login string) []string {
	var out []string
	for _, sess := range s.sessions.ByLogin(login) {
		out = append(out, sess.Sessid())
	}
	return out
}

// Sockets returns the number of open sockets and of logged-in ones.
func (s *Server) Sockets() (open, loggedIn int) { return s.sessions.Len() }

// WaitSockets blocks until cond holds for the socket counts, or ctx ends.
func (s *Server) WaitSockets(ctx context.Context, cond func(open, loggedIn int) bool) error {
	for {
		ch := s.sessions.Changed()
		if cond(s.sessions.Len()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Calls returns the number of calls mapped on this instance.
func (s *Server) Calls() int { return s.router.Len() }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Start connects to (or starts) NATS, subscribes and opens the listeners.
// On error everything started is stopped again.
func (s *Server) Start(ctx context.Context) (err error) {
	if s.started.Swap(true) {
		return errors.New("ctrl: already started")
	}
	s.nofile = raiseFileLimit()
	maxSockets := socketCap(s.cfg.Limits.MaxSockets, s.nofile)
	s.gate = newGate(maxSockets, preLoginCap(s.cfg.Limits.MaxPreLoginPerAddr, maxSockets), s.connRefused)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if err := s.startBus(ctx); err != nil {
		return err
	}
	var ensure func(context.Context) error
	if s.kvreg != nil {
		ensure = s.kvreg.Ensure
	}
	s.registrar = NewRegistrar(s.reg, ensure, s.cfg.Timers.RegistryRefresh, s.cfg.Timers.RegistryTTL, s.log)
	s.keeper = newBookKeeper(s.book, s.cfg.Timers.RegistryRefresh, s.bookPairs, s.log)
	s.router.onPair = s.keeper.sockChanged
	reqs, err := NewRequests(s.bus)
	if err != nil {
		return err
	}
	s.reqs = reqs
	for _, sub := range []struct {
		subject, queue string
		h              func(*BusMsg)
	}{
		{s.subj.Ctrl(s.uuid), "", s.onCtrl},
		{s.cfg.RTCSubject, verto.CtrlQueue, s.onRTC},
		{s.subj.Status(), "", s.onStatus},
	} {
		var x Subscription
		if sub.queue == "" {
			x, err = s.bus.Subscribe(sub.subject, sub.h)
		} else {
			x, err = s.bus.QueueSubscribe(sub.subject, sub.queue, sub.h)
		}
		if err != nil {
			return fmt.Errorf("ctrl: subscribe %s: %w", sub.subject, err)
		}
		s.subs = append(s.subs, x)
	}
	if err := s.bus.Flush(ctx); err != nil {
		return fmt.Errorf("ctrl: flush: %w", err)
	}
	s.announce()
	if s.nbus != nil {
		s.nbus.OnUp(s.busUp)
		// Off the bus, the registry may lose this instance's sockets (a
		// restarted server): /healthz says so until they are written
		// again, from the moment the connection drops, not only from
		// when busUp gets to it after the reconnect.
		s.nbus.OnDown(s.registrar.Republish)
	}
	if !s.cfg.NoPoller {
		// Without epoll (not Linux) every socket gets a reader goroutine.
		if p, err := newPoller(); err == nil {
			s.poller = p
		}
	}
	if err := s.listen(); err != nil {
		return err
	}
	s.startLoops()
	s.log.Info("xctrl started", "ws", s.WSURL(), "wss", s.wssAddr, "nats", s.NATSURLRedacted(), "metrics", s.metricsAddr)
	return nil
}

// embeddedToken is the token the embedded server requires: the configured
// one, or a random one, written to NATSTokenFile (mode 0600) for the nodes
// of this machine. "" with NATSOpen.
func (s *Server) embeddedToken() (string, error) {
	if s.cfg.NATSOpen {
		return "", nil
	}
	tok := s.cfg.NATSAuth.Token
	if tok == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok = hex.EncodeToString(b[:])
	}
	if f := s.cfg.NATSTokenFile; f != "" {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			return "", fmt.Errorf("ctrl: NATS token file: %w", err)
		}
		if err := natsauth.WriteToken(f, tok); err != nil {
			return "", fmt.Errorf("ctrl: NATS token file: %w", err)
		}
		s.log.Info("embedded NATS requires a token; nodes on this machine read it with nats-token-file", "file", f)
	}
	return tok, nil
}

// announce tells the nodes this instance is up (XNode.CtrlStartUp): every
// node hears it on the status subject (the queue subject reaches one) and
// answers with Event.NodeUpdate at once.
func (s *Server) announce() {
	m, err := verto.NewNotification(verto.MethodCtrlStartUp, map[string]string{verto.KeyCtrlUUID: s.uuid})
	if err != nil {
		return
	}
	b, _ := m.Marshal()
	_ = s.bus.Publish(s.subj.AnyNode(), "", b)
	_ = s.bus.Publish(s.subj.Status(), "", b)
}

// busUp runs when the bus is back after a reconnect or on a new
// connection: the server behind may have restarted, so the registry bucket
// is checked (created again if it is gone) and every live socket written
// again at once; the nodes hear this instance again.
func (s *Server) busUp(nc *nats.Conn, fresh bool) {
	// Each bucket check is bounded on its own: while a cluster elects a
	// bucket's leader the check hangs, and the registrar retries anyway.
	check := func(f func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(s.ctx, 2*ensureWait)
		defer cancel()
		return f(ctx)
	}
	if s.kvreg != nil {
		if err := check(func(ctx context.Context) error { return s.kvreg.b.reopen(ctx, nc, fresh) }); err != nil {
			s.log.Warn("registry: not available after reconnect; retrying", "err", err)
			s.registrar.BucketGone()
		}
	}
	if s.kvbook != nil {
		if err := check(func(ctx context.Context) error { return s.kvbook.b.reopen(ctx, nc, fresh) }); err != nil {
			s.log.Warn("call book: not available after reconnect", "err", err)
		}
	}
	s.keeper.Rewrite()
	s.registrar.Republish()
	s.announce()
	// Nodes may have ended calls (or detached them, taking our sockets for
	// gone) while we could not hear them. Their silence was ours.
	s.nodes.Touch(time.Now())
	for _, node := range s.nodes.Live(time.Now()) {
		s.reconcile(node)
	}
}

func (s *Server) startBus(ctx context.Context) error {
	if s.deps.Bus != nil {
		s.bus, s.reg, s.book = s.deps.Bus, s.deps.Registry, s.deps.CallBook
		if s.book == nil {
			s.book = NewMemCallBook()
		}
		return nil
	}
	url := strings.Join(s.cfg.NATSURLs, ",")
	var auth []nats.Option
	if len(s.cfg.NATSURLs) == 0 {
		tok, err := s.embeddedToken()
		if err != nil {
			return err
		}
		// Its connections (nodes, other instances, and anyone who reaches
		// the port before the auth timeout) stay within half the files
		// client sockets leave.
		ns, err := natsd.Start(ctx, natsd.Options{Listen: s.cfg.NATSListen, StoreDir: s.cfg.NATSStoreDir,
			ServerName: "xctrl-" + s.uuid, Token: tok, MaxConn: fileReserve(s.nofile) / 2})
		if err != nil {
			return err
		}
		s.natsd, s.natsToken = ns, tok
		url = ns.ClientURL()
		if tok != "" {
			auth = append(auth, nats.Token(tok))
		}
	} else {
		var err error
		if auth, err = s.cfg.NATSAuth.Options(); err != nil {
			return fmt.Errorf("ctrl: %w", err)
		}
	}
	opts := append(auth, nats.Name("xctrl "+s.uuid))
	if s.natsd != nil {
		// Our own embedded server: an in-process connection, no loopback
		// TCP for every bus message and registry write.
		opts = append(opts, nats.InProcessServer(s.natsd.InProcess()))
	}
	nb, err := dialNATSBus(ctx, url, s.log, append(opts,
		nats.ReconnectWait(500*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			s.log.Error("nats", "subject", subject, "err", err)
		}),
	)...)
	if err != nil {
		return fmt.Errorf("ctrl: nats %s: %w", url, err)
	}
	s.nbus = nb
	s.bus = nb
	reg, err := NewKVRegistry(ctx, nb.conn(), KVOptions{Bucket: s.cfg.RegistryBucket, TTL: s.cfg.Timers.RegistryTTL,
		Replicas: s.cfg.RegistryReplicas, Memory: s.cfg.RegistryMemory, Log: s.log})
	if err != nil {
		return err
	}
	s.reg, s.kvreg = reg, reg
	book, err := NewKVCallBook(ctx, nb.conn(), KVOptions{Bucket: s.cfg.CallBookBucket, TTL: s.cfg.Timers.CallRecordTTL,
		Replicas: s.cfg.RegistryReplicas, Memory: s.cfg.RegistryMemory, Log: s.log})
	if err != nil {
		return err
	}
	s.book, s.kvbook = book, book
	return nil
}

func (s *Server) listen() error {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.serveHealth)
	mux.HandleFunc("/", s.serveWS)
	httpServe := func(ln net.Listener, h http.Handler) {
		// An idle keep-alive connection is closed after a minute: it
		// holds a file descriptor.
		hs := &http.Server{Handler: h, ReadHeaderTimeout: headTimeout, IdleTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		s.https = append(s.https, hs)
		go func() { _ = hs.Serve(ln) }()
	}
	serve := func(addr string, tlsCfg *tls.Config, h http.Handler, clients bool) (string, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "", fmt.Errorf("ctrl: listen %s: %w", addr, err)
		}
		if clients {
			ln = s.gated(ln)
		}
		if tlsCfg != nil {
			ln = tls.NewListener(ln, tlsCfg)
		}
		httpServe(ln, h)
		return ln.Addr().String(), nil
	}
	var err error
	if s.cfg.WSListen != "" {
		// No TCP keepalive: XCtrl pings every quiet socket itself
		// (Timers.Ping), and each accepted socket saves four setsockopt
		// calls.
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err := lc.Listen(context.Background(), "tcp", s.cfg.WSListen)
		if err != nil {
			return fmt.Errorf("ctrl: listen %s: %w", s.cfg.WSListen, err)
		}
		s.wsUpgrader.OnBeforeUpgrade = func() (ws.HandshakeHeader, error) {
			if s.draining.Load() {
				return nil, ws.RejectConnectionError(ws.RejectionStatus(http.StatusServiceUnavailable), ws.RejectionReason("draining"))
			}
			return nil, nil
		}
		other := newConnQueue(ln.Addr())
		httpServe(other, mux)
		gl := s.gated(ln)
		s.wsLns = append(s.wsLns, gl)
		s.wsAddr = ln.Addr().String()
		go s.acceptWS(gl, other)
	}
	if s.cfg.WSSListen != "" {
		certs, err := newCertStore(s.cfg.CertFile, s.cfg.KeyFile, s.cfg.Timers.CertCheck, s.log)
		if err != nil {
			return err
		}
		s.certs = certs
		tc := &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12}
		if s.wssAddr, err = serve(s.cfg.WSSListen, tc, mux, true); err != nil {
			return err
		}
	}
	if s.cfg.MetricsListen != "" {
		mm := http.NewServeMux()
		mm.Handle("/metrics", s.metrics.Handler())
		mm.HandleFunc("/healthz", s.serveHealth)
		if s.cfg.Pprof {
			mm.HandleFunc("/debug/pprof/", pprof.Index)
			mm.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mm.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		if s.metricsAddr, err = serve(s.cfg.MetricsListen, nil, mm, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	switch {
	case s.draining.Load():
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	case s.nbus != nil && !s.nbus.Ready():
		http.Error(w, "off the NATS bus (reconnecting, or catching up after it)", http.StatusServiceUnavailable)
		return
	case s.registrar != nil && !s.registrar.Healthy():
		http.Error(w, fmt.Sprintf("registry not usable: %v", s.registrar.LastError()), http.StatusServiceUnavailable)
		return
	}
	all, in := s.sessions.Len()
	fmt.Fprintf(w, "ok ctrl_uuid=%s sockets=%d logged_in=%d nodes=%d\n", s.uuid, all, in, len(s.nodes.Live(time.Now())))
}

// serveWS upgrades a request to a Verto socket.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !isWebSocketUpgrade(r) {
		http.Error(w, "Verto WebSocket endpoint", http.StatusUpgradeRequired)
		return
	}
	if s.draining.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	conn, rw, _, err := s.upgrader.Upgrade(r, w)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return
	}
	_ = conn.SetDeadline(time.Time{})
	// Frames the client sent right behind its handshake wait in the HTTP
	// reader; the socket is read directly from here on.
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ = rw.Reader.Peek(n)
	}
	host, port := s.proxies.clientAddr(r)
	s.openSocket(conn, host, port, early)
}

// openSocket starts a Verto socket on an upgraded connection; early are
// frames the client sent behind its handshake.
func (s *Server) openSocket(conn net.Conn, host string, port int, early []byte) {
	if sc := slotOf(conn); sc != nil && !sc.forwarded(host) {
		refuseSocket(conn, ws.StatusPolicyViolation, "too many sockets from this address")
		return
	}
	sess := newSession(s, conn, host)
	sess.port = port
	// Under openMu, against Shutdown: a socket is either counted before
	// Shutdown waits for the sockets (and closed by it), or sees it
	// draining and is not opened. A WaitGroup must not be added to once
	// its Wait may have begun.
	s.openMu.Lock()
	if s.draining.Load() {
		s.openMu.Unlock()
		refuseSocket(conn, ws.StatusGoingAway, "server shutting down")
		return
	}
	s.sessions.Add(sess)
	s.wg.Add(1)
	s.openMu.Unlock()
	sess.start(early)
}

// refuseSocket closes an upgraded connection that gets no Verto socket,
// with a close frame (one write) saying why.
func refuseSocket(conn net.Conn, code ws.StatusCode, reason string) {
	if b, err := ws.CompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason))); err == nil {
		_, _ = conn.Write(b)
	}
	_ = conn.Close()
}

// isWebSocketUpgrade: the request asks for a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		if hasToken([]byte(v), token) {
			return true
		}
	}
	return false
}

// startLoops runs the housekeeping: node expiry, keepalive and login
// timeouts, registry refresh, throttle sweep.
func (s *Server) startLoops() {
	t := s.cfg.Timers
	s.every(t.NodeSweep, s.expireNodes)
	s.every(t.NodeProbe, s.probeNodes)
	tick := min(t.Ping/2, time.Second)
	s.every(tick, s.keepalive)
	s.loops.Add(2)
	go func() {
		defer s.loops.Done()
		s.registrar.Run(s.ctx)
	}()
	go func() {
		defer s.loops.Done()
		s.keeper.run(s.ctx)
	}()
	s.every(s.cfg.Limits.LoginFailureWindow, func(now time.Time) {
		s.byAddr.Sweep(now)
		s.byUser.Sweep(now)
		s.invites.Sweep(now)
		s.casts.Sweep(now)
		s.logins.Sweep(now)
	})
}

func (s *Server) every(d time.Duration, f func(time.Time)) {
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				f(now)
			case <-s.ctx.Done():
				return
			}
		}
	}()
}

// keepalive pings sockets idle for Timers.Ping, closes those whose login
// expired or that never logged in, and those gone silent (Timers.PeerTimeout).
func (s *Server) keepalive(now time.Time) {
	n := now.UnixNano()
	ping := s.cfg.Timers.Ping.Nanoseconds()
	peerTimeout := max(s.cfg.Timers.PeerTimeout.Nanoseconds(), 2*ping)
	for _, sess := range s.sessions.All() {
		id := sess.Identity()
		if id == nil {
			if n-sess.born > s.cfg.Timers.LoginTimeout.Nanoseconds() {
				sess.closeAfterFlush(closePolicyViolation, "login timeout")
			}
			continue
		}
		if !id.Expires.IsZero() && now.After(id.Expires) {
			sess.logger().Info("login expired")
			sess.closeAfterFlush(closePolicyViolation, "authentication expired")
			continue
		}
		if s.gone(sess, n, peerTimeout) {
			continue
		}
		if n-sess.lastActive.Load() >= ping {
			p := verto.PingParams{Serno: now.Unix()}
			if !id.Expires.IsZero() {
				p.AuthExpires = id.Expires.Unix()
			}
			sess.lastActive.Store(n)
			sess.sendRequest(verto.MethodPing, mustJSON(p))
		}
		pingSilent(sess, n, ping)
	}
}

// gone closes a logged-in socket that sent nothing for the peer timeout
// (true). Such a socket has had a WebSocket ping every Timers.Ping of its
// silence (pingSilent), which browsers answer by themselves (verto.js
// answers no verto.ping). Without this a peer that vanished without a FIN
// kept its socket, its registration (calls to the user rang it) and its
// calls attached until TCP gave up on XCtrl's pings, about 15 minutes
// later.
func (s *Server) gone(sess *Session, n, timeout int64) bool {
	quiet := n - sess.lastHeard.Load()
	if quiet < timeout {
		return false
	}
	s.metrics.peersGone.Add(1)
	sess.logger().Info("peer silent: socket closed as gone", "silent_for", time.Duration(quiet).Round(time.Second))
	sess.close(closeGoingAway, "no answer to pings")
	return true
}

// pingSilent sends a WebSocket ping to a socket that sent nothing for
// ping, and again each ping after.
func pingSilent(sess *Session, n, ping int64) {
	if n-max(sess.lastHeard.Load(), sess.pinged.Load()) >= ping {
		sess.pinged.Store(n)
		sess.enqueue(outFrame{op: ws.OpPing})
	}
}

// Shutdown drains: stop accepting, close every socket with 1001 "going away"
// (clients reconnect to another instance; their calls stay up on the nodes
// and are re-attached there), then leave the bus. ctx bounds the wait.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() {
		return nil
	}
	s.openMu.Lock()
	s.draining.Store(true)
	s.openMu.Unlock()
	s.closeListeners()
	for _, hs := range s.https {
		_ = hs.Shutdown(ctx)
	}
	for _, sess := range s.sessions.All() {
		sess.closeAfterFlush(closeGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, sess := range s.sessions.All() {
			sess.close(closeAbnormal, "")
		}
		<-done
	}
	// The sockets' registry entries go before the bus does (else they stay
	// until the TTL, and calls to those users try this instance).
	dctx, cancel := context.WithTimeout(ctx, registryDrainWait)
	s.registrar.Drain(dctx)
	cancel()
	if a, ok := s.auth.(*Auth); ok && a.XUI != nil && a.XUI.Client != nil {
		a.XUI.Client.CloseIdleConnections() // kept for the logins, none come now
	}
	s.stop()
	return err
}

// registryDrainWait bounds the wait for a stopping instance's registry
// deletes.
const registryDrainWait = 5 * time.Second

// stop releases everything Start acquired.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		s.closeListeners()
		for _, hs := range s.https {
			_ = hs.Close()
		}
		if s.cancel != nil {
			s.cancel()
		}
		for _, sub := range s.subs {
			_ = sub.Unsubscribe()
		}
		if s.reqs != nil {
			s.reqs.Close()
		}
		if s.nbus != nil {
			s.nbus.stopDispatch() // no handler runs (and starts a ring) after this
		}
		s.loopsMu.Lock()
		s.loopsDone = true
		s.loopsMu.Unlock()
		s.loops.Wait()
		if s.nbus != nil {
			s.nbus.close()
		}
		if s.natsd != nil {
			s.natsd.Close()
		}
		if s.poller != nil {
			s.poller.close()
		}
	})
}

// closeListeners stops accepting ws:// connections.
func (s *Server) closeListeners() {
	for _, ln := range s.wsLns {
		_ = ln.Close()
	}
}

// raiseFileLimit lifts RLIMIT_NOFILE to its hard limit (every socket is a
// file) and returns the limit in force.
func raiseFileLimit() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 1 << 20
	}
	if r.Cur < r.Max {
		old := r.Cur
		r.Cur = r.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
			r.Cur = old
		}
	}
	return r.Cur
}

// connRefused counts a client connection the gate refused and logs it, at
// most one line every 10 s.
func (s *Server) connRefused(reason string, addr netip.Addr) {
	s.metrics.refused(reason)
	if s.gate.warned.now(time.Now()) {
		switch reason {
		case refusedCapacity:
			s.log.Warn("refusing client connections: at the socket limit", "max_sockets", s.gate.max, "addr", addr)
		default:
			s.log.Warn("refusing client connections: too many not logged in from one address",
				"addr", addr, "max_prelogin_per_addr", s.gate.perAddr)
		}
	}
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string { return uuid.NewString() }

// OnBus reports whether this instance is connected to NATS.
func (s *Server) OnBus() bool { return s.busConnected() }

// Suspects lists the nodes taken out of the choice (no responders or
// timeouts), comma-separated, sorted.
func (s *Server) Suspects() string { return strings.Join(s.nodes.Suspects(), ",") }

// NATSURLRedacted is NATSURL without its credentials, for logs.
func (s *Server) NATSURLRedacted() string {
	if s.nbus != nil {
		if u := s.nbus.conn().ConnectedUrlRedacted(); u != "" {
			return u
		}
	}
	if s.natsToken == "" {
		return s.NATSURL()
	}
	return strings.Replace(s.NATSURL(), s.natsToken+"@", "", 1)
}

// bookPairs is what the call book should hold for this instance: every
// socket with an established call, and the call's node.
func (s *Server) bookPairs() []bookPair {
	pairs := s.router.Pairs()
	out := make([]bookPair, 0, len(pairs))
	for _, p := range pairs {
		if sid := p.s.Sessid(); sid != "" {
			out = append(out, bookPair{sid, p.node})
		}
	}
	return out
}
