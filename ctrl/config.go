package ctrl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"xccrtc/natsauth"
	"xccrtc/verto"
)

// Config is everything XCtrl can be told. The zero value plus Defaults is a
// working single-machine controller: embedded NATS on 127.0.0.1:4222 and a
// WebSocket listener on 127.0.0.1:8081.
type Config struct {
	// CtrlUUID names this instance on the bus; "" generates one.
	CtrlUUID string

	// WSListen is host:port of the ws:// listener ("" for none; ":0" or
	// "127.0.0.1:0" picks a free port, see Server.WSAddr).
	WSListen string
	// WSSListen is host:port of the wss:// listener; it needs CertFile and
	// KeyFile.
	WSSListen string
	CertFile  string
	KeyFile   string
	// MetricsListen serves /metrics and /healthz ("" for none).
	MetricsListen string
	// Pprof serves net/http/pprof under /debug/pprof/ on the metrics
	// listener (off by default: profiles reveal internals and cost CPU).
	Pprof bool

	// FSConfDir is FreeSWITCH's configuration folder: XCtrl reads
	// FSConfDir/freeswitch.xml as FreeSWITCH does (includes, set, $${name})
	// and takes its directory section for password logins (and to enrich
	// token logins with directory data).
	FSConfDir string
	// DirectoryFile is a lone directory file read the same way (a
	// <document>, a directory section, or the domains FreeSWITCH includes
	// into one). At most one of FSConfDir and DirectoryFile.
	DirectoryFile string
	// FSVars are FreeSWITCH global variables whose values win over the
	// files' (what XCtrl cannot see: FreeSWITCH's local_ip_v4 on another
	// machine, a stun-set result, vars.xml for a lone directory file).
	FSVars map[string]string
	// UserLookup is where users come from: "files" (FSConfDir or
	// DirectoryFile; the default) or "node": a FreeSWITCH node looks them
	// up with its own directory, whatever its backend (xrtc.lookupUser).
	UserLookup string
	// DefaultDomain completes a login without "@domain".
	DefaultDomain string
	// ForceRegisterDomain is mod_verto's force-register-domain: every
	// login's domain is this one, whatever the login says.
	ForceRegisterDomain string
	// BlindReg is mod_verto's blind-reg: a login the directory does not
	// know is accepted with any password (no directory data, no
	// restrictions); the users it knows still need their passwords.
	BlindReg bool
	// TrustedProxies are the addresses (IP or CIDR) of HTTP proxies in
	// front of XCtrl: from them, X-Forwarded-For (else X-Real-IP) names
	// the client's address. From anyone else those headers are ignored.
	TrustedProxies []string
	// JWTSecret enables loginParams.xcc_token: an HS256 JWT signed with it.
	JWTSecret string
	// XUIAuthURL enables loginParams.xui_sessid: the token is checked by a
	// POST to this URL (see README).
	XUIAuthURL string

	// NATSURLs joins a real NATS (cluster); empty starts an embedded server.
	NATSURLs []string
	// NATSAuth are the credentials (and TLS) XCtrl connects with. With the
	// embedded server, NATSAuth.Token (or a generated one) is the token the
	// server requires.
	NATSAuth natsauth.Auth
	// NATSTokenFile is where the embedded server's token is written (mode
	// 0600) for the nodes on this machine (their nats-token-file); "" writes
	// none (library users get it in NATSURL).
	NATSTokenFile string
	// NATSOpen runs the embedded server without authentication.
	NATSOpen bool
	// NATSListen is the embedded server's client address ("" is
	// 127.0.0.1:4222; "127.0.0.1:-1" picks a free port).
	NATSListen string
	// NATSStoreDir holds the embedded server's JetStream data ("" is a
	// temporary folder removed on shutdown).
	NATSStoreDir string
	// SubjectPrefix is the root of the XCC subjects ("" is cn.xswitch).
	SubjectPrefix string
	// RTCSubject is the queue subject of calls to WebRTC users ("" is
	// <prefix>.ctrl.rtc).
	RTCSubject string
	// RegistryBucket is the JetStream key-value bucket of logged-in users.
	RegistryBucket string
	// CallBookBucket is the bucket that says which nodes hold calls of
	// each sessid (a login asks only those).
	CallBookBucket string
	// RegistryReplicas is the bucket's replica count on a cluster (0 is 1).
	RegistryReplicas int
	// RegistryMemory keeps the bucket in memory; by default it is on file
	// storage where JetStream has it.
	RegistryMemory bool

	// NoPoller gives every ws:// socket a reader goroutine instead of
	// watching idle sockets with epoll (wss:// sockets, and all sockets
	// off Linux, always have one). For comparisons; the poller is leaner.
	NoPoller bool

	// EnableJSAPI and EnableFSAPI let users call jsapi / fsapi (relayed to
	// any node); off, they answer -32601 like an unknown method.
	EnableJSAPI bool
	EnableFSAPI bool

	Limits Limits
	Timers Timers
}

// DefaultSocketSendBuffer is Limits.SocketSendBuffer's default: 64 KiB,
// a signalling socket's largest frames (an SDP, a conference's liveArray
// bootstrap) in one or a few round trips.
const DefaultSocketSendBuffer = 64 << 10

// Limits bound what one client can make XCtrl do.
type Limits struct {
	MaxFrameBytes int // frame size cap (256 KiB)
	// MaxPreLoginFrameBytes caps the frames of a socket that has not
	// logged in (16 KiB: a login is small); a bigger one is dropped as
	// it streams in. Sockets that never log in then hold little each.
	MaxPreLoginFrameBytes int
	MaxBatch              int     // messages in one batch (32)
	RatePerSec            float64 // sustained messages per second per socket (50)
	RateBurst             int     // burst above the rate (100)
	// UserRatePerSec bounds the messages of one login, all its sockets on
	// this instance together, per second sustained (200; negative: no
	// bound), UserRateBurst the burst above it (2,000): a user's sockets
	// share it, so that 256 sockets do not send 256 times RatePerSec.
	UserRatePerSec float64
	UserRateBurst  int
	// UserBytesPerSec bounds the bytes one login sends, all its sockets
	// on this instance together, per second sustained (1 MiB; negative:
	// no bound); UserBytesBurst is the burst above it (8 MiB, at least
	// MaxFrameBytes). Nearly all of it goes to nodes: within the message
	// rates alone, one user sent frames of MaxFrameBytes at 50 MiB a
	// second to a node of its choosing.
	UserBytesPerSec float64
	UserBytesBurst  int
	MaxQueue        int // messages queued to one socket before it is dropped (1024)
	MaxQueueBytes   int // bytes queued to one socket before it is dropped (4 MiB)
	// MaxQueuedTotal bounds the bytes queued to all sockets together
	// (512 MiB; negative: no bound): past it, a socket that is behind
	// (more than 64 KiB queued) is dropped as a slow reader, whatever
	// MaxQueueBytes allows it, so that sockets that do not read (one
	// user holds up to MaxSocketsPerUser) cannot make XCtrl hold
	// MaxQueueBytes each.
	MaxQueuedTotal   int
	MaxSubscriptions int // event channels one socket may subscribe (1024)
	// MaxSubscriptionsPerUser bounds the event channels of one login,
	// all its sockets on this instance together (4,096; negative: no
	// bound): XCtrl and the nodes keep every subscription, and one user
	// holds up to MaxSocketsPerUser sockets.
	MaxSubscriptionsPerUser int
	ReadBuffer              int // per-socket read buffer (1 KiB; frames may be larger)
	// SocketSendBuffer is each client socket's kernel send buffer
	// (SO_SNDBUF; 64 KiB, which Linux counts as 128 KiB; negative: the
	// kernel's own, which grows up to tcp_wmem's maximum, 4 MiB by
	// default, for a client that once read fast). What a socket does not
	// take waits in XCtrl's queue, under MaxQueueBytes and
	// MaxQueuedTotal: the kernel's share stays small and bounded.
	SocketSendBuffer int

	// MaxSockets bounds the client connections held at once (ws:// and
	// wss://, logged in or not); more are closed as they come. Default:
	// the open-file limit less a reserve (an eighth, 64 to 1,024) for
	// NATS, JetStream and the metrics listener.
	MaxSockets int
	// MaxPreLoginPerAddr bounds the connections of one client address
	// (an IPv6 /64) that have not logged in. Default: 256, or a quarter
	// of MaxSockets when that is less.
	MaxPreLoginPerAddr int

	// MaxSocketsPerUser bounds the logged-in sockets of one login on this
	// instance (256; negative: no bound): a login past it is refused
	// (MsgTooManySockets), so that one credential cannot hold every
	// socket of MaxSockets. A login that takes over its own sessid (a
	// reload) replaces a socket and is not refused.
	MaxSocketsPerUser int

	// LoginRatePerUser bounds the successful logins of one login, all
	// its sockets on this instance together, per second sustained (10;
	// negative: no bound); LoginBurstPerUser is the burst above it (300,
	// more than MaxSocketsPerUser: every socket of a user may come back
	// at once when an instance goes). Each login writes the registry and
	// may ask nodes: a credential logging in and out in a loop must not
	// take XCtrl and JetStream from everybody.
	LoginRatePerUser  float64
	LoginBurstPerUser int

	// InviteRatePerUser bounds the verto.invite requests of one login,
	// all its sockets on this instance together, per second sustained
	// (5; negative: no bound); InviteBurstPerUser is the burst above it
	// (20). A refused invite never reaches a node: a node's FreeSWITCH
	// starts a few dozen sessions a second for every user
	// (sessions-per-second), and one user must not take them all.
	InviteRatePerUser  float64
	InviteBurstPerUser int

	// MaxCallsPerUser bounds the calls one login holds through this
	// instance at once: those its sockets placed and not yet ended, and
	// those they answered or took back (32; negative: no bound). An
	// invite past it is refused (MsgTooManyCalls) and never reaches a
	// node. A client that keeps its calls' media going holds them for
	// ever; the invite rate alone would let one user fill a node's
	// FreeSWITCH (max-sessions) a few calls a second.
	MaxCallsPerUser int

	// BroadcastRatePerUser bounds the verto.broadcast requests of one
	// login, all its sockets on this instance together, per second
	// sustained (5; negative: no bound); BroadcastBurstPerUser is the
	// burst above it (50). A broadcast goes to every socket subscribed to
	// its channel (a conference's chat or liveArray: hundreds), so one
	// user's broadcasts are bounded far below its message rate.
	BroadcastRatePerUser  float64
	BroadcastBurstPerUser int

	LoginFailuresPerAddr int           // failed logins per address per window (20)
	LoginFailuresPerUser int           // failed logins per user per window (10)
	LoginFailureWindow   time.Duration // (1 min)
}

// Timers are the protocol and housekeeping durations. Tests shorten them.
type Timers struct {
	Ping time.Duration // verto.ping after this long without traffic (30 s)
	// PeerTimeout: a logged-in socket nothing arrived from for this long
	// is closed as gone, its calls detached. XCtrl sends it a WebSocket
	// ping each Ping of silence, which browsers answer by themselves, so
	// only a peer that vanished (a laptop lid, a NAT that forgot it) stays
	// silent (90 s; at least twice Ping).
	PeerTimeout     time.Duration
	LoginTimeout    time.Duration // a socket that has not logged in by then is closed (60 s)
	NodeExpiry      time.Duration // a node silent this long is dead (45 s)
	NodeSweep       time.Duration // how often dead nodes are looked for (5 s)
	NodeProbe       time.Duration // how often each node is probed with xrtc.ping (1 s)
	NodeDead        time.Duration // a node with no responders this long is dead (10 s)
	Request         time.Duration // relayed request timeout (10 s)
	Invite          time.Duration // relayed verto.invite timeout (30 s)
	LoginWait       time.Duration // wait for nodes' xrtc.login replies (2 s)
	Forward         time.Duration // wait for another XCtrl to ring its sockets (2 s)
	RegistryTTL     time.Duration // registry entry lifetime without refresh (60 s)
	RegistryRefresh time.Duration // refresh period of live entries (20 s)
	// CallRecordTTL is how long the call book keeps a (sessid, node) pair
	// nobody refreshes (10 min): longer than the nodes' detach-timeout-sec,
	// so that a client whose XCtrl died finds its detached calls.
	CallRecordTTL time.Duration
	Write         time.Duration // socket write deadline (10 s)
	ReadLinger    time.Duration // a polled socket quiet this long (from half of it) goes back to the epoll poller (100 ms)
	Auth          time.Duration // xui_sessid check timeout (3 s)
	UserLookup    time.Duration // wait for a node's answer to xrtc.lookupUser (3 s)
	UserCache     time.Duration // how long a node's positive answer is kept (10 s)
	// CertCheck: how often the wss:// certificate's files are looked at
	// for a renewal, on handshakes (10 s); SIGHUP reads them at once.
	CertCheck time.Duration
}

// Defaults returns c with every unset field at its default.
func (c Config) Defaults() Config {
	if c.NATSListen == "" {
		c.NATSListen = "127.0.0.1:4222"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = verto.DefaultSubjectPrefix
	}
	if c.RTCSubject == "" {
		c.RTCSubject = verto.Subjects{Prefix: c.SubjectPrefix}.CtrlRTC()
	}
	if c.CallBookBucket == "" {
		c.CallBookBucket = "xrtc_calls"
	}
	if c.RegistryBucket == "" {
		c.RegistryBucket = "xrtc_registry"
	}
	if c.RegistryReplicas <= 0 {
		c.RegistryReplicas = 1
	}
	l := &c.Limits
	setInt(&l.MaxFrameBytes, verto.DefaultLimits.MaxBytes)
	setInt(&l.MaxBatch, verto.DefaultLimits.MaxBatch)
	setInt(&l.MaxPreLoginFrameBytes, 16<<10)
	if l.RatePerSec <= 0 {
		l.RatePerSec = 50
	}
	setInt(&l.RateBurst, 100)
	if l.UserRatePerSec == 0 {
		l.UserRatePerSec = 200
	}
	setInt(&l.UserRateBurst, 2000)
	if l.UserBytesPerSec == 0 {
		l.UserBytesPerSec = 1 << 20
	}
	setInt(&l.UserBytesBurst, 8<<20)
	setInt(&l.MaxQueue, 1024)
	setInt(&l.MaxQueueBytes, 4<<20)
	if l.MaxQueuedTotal == 0 {
		l.MaxQueuedTotal = 512 << 20
	}
	setInt(&l.MaxSubscriptions, 1024)
	if l.MaxSubscriptionsPerUser == 0 {
		l.MaxSubscriptionsPerUser = 4096
	}
	setInt(&l.ReadBuffer, 1024)
	if l.SocketSendBuffer == 0 {
		l.SocketSendBuffer = DefaultSocketSendBuffer
	}
	if l.MaxSocketsPerUser == 0 {
		l.MaxSocketsPerUser = 256
	}
	if l.LoginRatePerUser == 0 {
		l.LoginRatePerUser = 10
	}
	setInt(&l.LoginBurstPerUser, 300)
	if l.InviteRatePerUser == 0 {
		l.InviteRatePerUser = 5
	}
	setInt(&l.InviteBurstPerUser, 20)
	if l.MaxCallsPerUser == 0 {
		l.MaxCallsPerUser = 32
	}
	if l.BroadcastRatePerUser == 0 {
		l.BroadcastRatePerUser = 5
	}
	setInt(&l.BroadcastBurstPerUser, 50)
	setInt(&l.LoginFailuresPerAddr, 20)
	setInt(&l.LoginFailuresPerUser, 10)
	setDur(&l.LoginFailureWindow, time.Minute)
	t := &c.Timers
	setDur(&t.Ping, 30*time.Second)
	setDur(&t.PeerTimeout, 90*time.Second)
	setDur(&t.LoginTimeout, time.Minute)
	setDur(&t.NodeExpiry, verto.NodeExpirySec*time.Second)
	setDur(&t.NodeSweep, 5*time.Second)
	setDur(&t.NodeProbe, time.Second)
	setDur(&t.NodeDead, 10*time.Second)
	setDur(&t.Request, 10*time.Second)
	setDur(&t.Invite, 30*time.Second)
	setDur(&t.LoginWait, 2*time.Second)
	setDur(&t.Forward, 2*time.Second)
	setDur(&t.RegistryTTL, time.Minute)
	setDur(&t.RegistryRefresh, 20*time.Second)
	setDur(&t.CallRecordTTL, 10*time.Minute)
	setDur(&t.Write, 10*time.Second)
	setDur(&t.ReadLinger, 100*time.Millisecond)
	setDur(&t.Auth, 3*time.Second)
	setDur(&t.UserLookup, 3*time.Second)
	setDur(&t.UserCache, 10*time.Second)
	setDur(&t.CertCheck, 10*time.Second)
	if c.UserLookup == "" {
		c.UserLookup = UserLookupFiles
	}
	return c
}

func setInt(p *int, d int) {
	if *p <= 0 {
		*p = d
	}
}

func setDur(p *time.Duration, d time.Duration) {
	if *p <= 0 {
		*p = d
	}
}

// Values of Config.UserLookup.
const (
	UserLookupFiles = "files"
	UserLookupNode  = "node"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("ctrl: bad config")

// Validate reports every problem of a defaulted config at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.WSListen == "" && c.WSSListen == "" {
		bad("no WebSocket listener: set ws-listen or wss-listen")
	}
	for name, addr := range map[string]string{"ws-listen": c.WSListen, "wss-listen": c.WSSListen, "metrics-listen": c.MetricsListen} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s %q: %v", name, addr, err)
		}
	}
	if c.WSSListen != "" && (c.CertFile == "" || c.KeyFile == "") {
		bad("wss-listen needs cert and key")
	}
	if len(c.NATSURLs) == 0 {
		if _, _, err := net.SplitHostPort(c.NATSListen); err != nil {
			bad("nats-listen %q: %v", c.NATSListen, err)
		}
	}
	for _, u := range c.NATSURLs {
		if u == "" {
			bad("empty NATS URL")
		}
	}
	if len(c.NATSURLs) > 0 {
		if err := c.NATSAuth.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrConfig, err))
		}
	} else if c.NATSOpen && c.NATSAuth.Token != "" {
		bad("nats-open and a NATS token: choose one for the embedded server")
	}
	if c.XUIAuthURL != "" {
		u, err := url.Parse(c.XUIAuthURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("xui-auth-url %q: want an http(s) URL", c.XUIAuthURL)
		}
	}
	if strings.ContainsAny(c.CtrlUUID, ".*> \t") {
		bad("ctrl-uuid %q: must be one NATS subject token", c.CtrlUUID)
	}
	if strings.ContainsAny(c.RegistryBucket, ".*> \t") {
		bad("registry bucket %q: must be one token", c.RegistryBucket)
	}
	if strings.ContainsAny(c.CallBookBucket, ".*> \t") || c.CallBookBucket == c.RegistryBucket {
		bad("call book bucket %q: must be one token, not the registry's", c.CallBookBucket)
	}
	if c.Limits.MaxFrameBytes < 1024 {
		bad("max frame bytes %d: at least 1024", c.Limits.MaxFrameBytes)
	}
	if l := &c.Limits; l.UserBytesPerSec >= 0 && l.UserBytesBurst < l.MaxFrameBytes {
		bad("user data burst %d bytes: below the max frame, %d bytes, a frame that large could never pass", l.UserBytesBurst, l.MaxFrameBytes)
	}
	switch c.UserLookup {
	case UserLookupFiles:
		if c.FSConfDir != "" && c.DirectoryFile != "" {
			bad("fs-conf and directory: give one")
		}
	case UserLookupNode:
		if c.FSConfDir != "" || c.DirectoryFile != "" {
			bad("user-lookup node asks FreeSWITCH and reads no files: drop fs-conf / directory")
		}
	default:
		bad("user-lookup %q: want %s or %s", c.UserLookup, UserLookupFiles, UserLookupNode)
	}
	if _, err := parseProxies(c.TrustedProxies); err != nil {
		bad("%v", err)
	}
	if c.Timers.RegistryRefresh >= c.Timers.RegistryTTL {
		bad("registry refresh %v must be shorter than its TTL %v", c.Timers.RegistryRefresh, c.Timers.RegistryTTL)
	}
	return errors.Join(errs...)
}
