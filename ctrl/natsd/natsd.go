// Package natsd runs an embedded NATS server with JetStream: the default bus
// of a single-machine xcc-rtc (XCtrl with no --nats flag), and the bus of
// tests and the demo. A real deployment points every part at a NATS cluster
// instead; nothing else changes.
package natsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	// Listen is host:port for clients (nodes, other XCtrl instances).
	// "" means 127.0.0.1:4222; "127.0.0.1:-1" picks a free port.
	Listen string
	// StoreDir holds JetStream data; "" makes a temporary folder that Close
	// removes.
	StoreDir string
	// NoJetStream turns JetStream off (the user registry then cannot use a
	// key-value bucket).
	NoJetStream bool
	// ServerName names the server in cluster and monitoring output.
	ServerName string
}

// Server is a running embedded NATS server.
type Server struct {
	ns      *server.Server
	tempDir string
}

// ErrNotReady is returned when the server does not accept clients in time.
var ErrNotReady = errors.New("natsd: server not ready")

// Start starts a server and waits until it accepts clients or ctx ends.
func Start(ctx context.Context, o Options) (*Server, error) {
	host, port := "127.0.0.1", 4222
	if o.Listen != "" {
		h, p, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsd: listen address %q: %w", o.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("natsd: listen port %q: %w", p, err)
		}
		host, port = h, n
	}
	s := &Server{}
	dir := o.StoreDir
	if dir == "" && !o.NoJetStream {
		d, err := os.MkdirTemp("", "xccrtc-nats-*")
		if err != nil {
			return nil, fmt.Errorf("natsd: store dir: %w", err)
		}
		dir, s.tempDir = d, d
	}
	name := o.ServerName
	if name == "" {
		name = "xccrtc-embedded"
	}
	opts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  !o.NoJetStream,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 4 << 20,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("natsd: %w", err)
	}
	s.ns = ns
	go ns.Start()
	deadline := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		ns.Shutdown()
		s.cleanup()
		return nil, fmt.Errorf("%w: listening on %s:%d", ErrNotReady, host, port)
	}
	return s, nil
}

// ClientURL is the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Close shuts the server down and removes a temporary store.
func (s *Server) Close() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// InProcess is the embedded server, for nats.InProcessServer: a client in
// this process connects without a socket.
func (s *Server) InProcess() *server.Server { return s.ns }
