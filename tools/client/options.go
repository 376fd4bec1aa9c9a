package client

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options configure a Client.
type Options struct {
	URL string // ws:// or wss:// address of XCtrl or mod_verto
	// URLs are more addresses of the same service (other XCtrl
	// instances): reconnects try URL, then each of URLs in turn.
	URLs []string

	// Reconnect makes a lost socket (not a punt, not Close) reconnect as
	// verto.js does: after ReconnectDelay (default 1 s) it tries the
	// address it lost, then the others in turn; after a round that failed
	// it waits twice as long, up to ReconnectMaxDelay (default 3 s), until
	// ReconnectTimeout (default 2 min, mod_verto's detach timeout) has
	// passed or a login is refused. The client logs in with the
	// same sessid and answers the server's verto.attach for its answered
	// calls, whose media goes on meanwhile; unanswered calls are lost (the
	// server hangs them up). Off, a lost socket ends the client.
	Reconnect         bool
	ReconnectDelay    time.Duration
	ReconnectMaxDelay time.Duration
	ReconnectTimeout  time.Duration

	// Credentials. Login is user@domain. With XUISessid or XCCToken the
	// token goes in loginParams and Passwd may be empty (a dummy "x" is
	// sent, as the XSwitch SDK does).
	Login     string
	Passwd    string
	XUISessid string
	XCCToken  string
	// LoginParams and UserVariables are sent with login as they are
	// (loginParams gets xui_sessid / xcc_token added).
	LoginParams   map[string]any
	UserVariables map[string]any

	// Sessid is the session id kept across runs; empty means: read
	// SessidFile, or make a new one (and write it to SessidFile when set).
	Sessid     string
	SessidFile string

	// Caller id sent in dialogParams; empty means the login's user part.
	CallerIDName   string
	CallerIDNumber string

	// Header is sent with the WebSocket handshake (Origin, cookies...).
	Header http.Header
	// TLS configures wss://; nil means the system roots.
	TLS *tls.Config

	// RequestTimeout bounds one JSON-RPC request (default 10 s; invites
	// get three times as long).
	RequestTimeout time.Duration
	// ReadyTimeout is how long Dial and Reload wait for verto.clientReady
	// after login before going on without it (default 3 s).
	ReadyTimeout time.Duration
	// IncomingBuffer is the capacity of Incoming (default 16). An invite
	// that finds it full is refused with USER_BUSY.
	IncomingBuffer int

	// Settings are the WebRTC knobs (ICE servers, addresses, ports).
	Settings Settings

	// Logger gets debug logs of every frame and info logs of call events;
	// nil discards them.
	Logger *slog.Logger
	// OnEvent, when set, is called for every client and call event, from
	// the client's goroutines: keep it short and do not call the client
	// from it.
	OnEvent func(Event)
}

// Settings are the WebRTC settings most users never touch.
type Settings struct {
	// ICEServers are stun:/turn: URLs; none by default (host candidates
	// only, which is right for a client next to the server or on a LAN).
	ICEServers []string
	// ICEUsername and ICECredential are used for turn: servers.
	ICEUsername, ICECredential string
	// UDP4Only restricts ICE to IPv4 UDP (default: IPv4 and IPv6 UDP).
	UDP4Only bool
	// IncludeLoopback gathers 127.0.0.1 too (pion leaves it out by default).
	IncludeLoopback bool
	// IPFilter, when set, keeps only the local addresses it accepts.
	IPFilter func(net.IP) bool
	// PortMin and PortMax bound the local UDP ports.
	PortMin, PortMax uint16
	// NAT1To1IPs are public addresses to announce instead of local ones.
	NAT1To1IPs []string
	// DisableMDNS turns off mDNS candidate resolution.
	DisableMDNS bool
	// GatherTimeout bounds ICE gathering before an offer or answer is sent
	// (default 10 s).
	GatherTimeout time.Duration
}

// LoopbackSettings are settings for tests on one machine: 127.0.0.1 only,
// no mDNS.
func LoopbackSettings() Settings {
	return Settings{
		UDP4Only:        true,
		IncludeLoopback: true,
		IPFilter:        func(ip net.IP) bool { return ip.IsLoopback() },
		DisableMDNS:     true,
	}
}

func (o *Options) withDefaults() error {
	if o.URL == "" {
		return fmt.Errorf("client: no URL")
	}
	for _, u := range append([]string{o.URL}, o.URLs...) {
		if !strings.HasPrefix(u, "ws://") && !strings.HasPrefix(u, "wss://") {
			return fmt.Errorf("client: URL %q is not ws:// or wss://", u)
		}
	}
	if o.ReconnectDelay <= 0 {
		o.ReconnectDelay = time.Second
	}
	if o.ReconnectMaxDelay < o.ReconnectDelay {
		o.ReconnectMaxDelay = max(o.ReconnectDelay, 3*time.Second)
	}
	if o.ReconnectTimeout <= 0 {
		o.ReconnectTimeout = 2 * time.Minute
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 3 * time.Second
	}
	if o.IncomingBuffer <= 0 {
		o.IncomingBuffer = 16
	}
	if o.Settings.GatherTimeout <= 0 {
		o.Settings.GatherTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	user := o.Login
	if i := strings.IndexByte(user, '@'); i >= 0 {
		user = user[:i]
	}
	if o.CallerIDNumber == "" {
		o.CallerIDNumber = user
	}
	if o.CallerIDName == "" {
		o.CallerIDName = user
	}
	return nil
}

// resolveSessid returns the session id to use: Sessid, else SessidFile's
// content, else a new one (written to SessidFile when set).
func (o *Options) resolveSessid() (string, error) {
	if o.Sessid != "" {
		if o.SessidFile != "" {
			if err := writeSessid(o.SessidFile, o.Sessid); err != nil {
				return "", err
			}
		}
		return o.Sessid, nil
	}
	if o.SessidFile != "" {
		b, err := os.ReadFile(o.SessidFile)
		if err == nil {
			if s := strings.TrimSpace(string(b)); s != "" {
				return s, nil
			}
		} else if !os.IsNotExist(err) {
			return "", fmt.Errorf("client: sessid file: %w", err)
		}
		s := newUUID()
		if err := writeSessid(o.SessidFile, s); err != nil {
			return "", err
		}
		return s, nil
	}
	return newUUID(), nil
}

func writeSessid(path, s string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("client: sessid file: %w", err)
		}
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return fmt.Errorf("client: sessid file: %w", err)
	}
	return nil
}
