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
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	// Token, when set, is the authorization token every client must give.
	Token string
	// MaxConn bounds the client connections the server takes at once (0:
	// nats-server's default, 65,536); more are refused.
	MaxConn int
	// Cluster joins the server to a cluster (JetStream clustered, so that a
	// key-value bucket may have replicas).
	Cluster *ClusterOptions
}

// ClusterOptions make the server one member of a cluster.
type ClusterOptions struct {
	Name   string   // cluster name, the same on every member
	Listen string   // host:port for routes from the other members
	Routes []string // nats-route://host:port of the members (itself may be listed)
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
		MaxConn:    o.MaxConn,
	}
	if o.Token != "" {
		opts.Authorization = o.Token
	}
	if c := o.Cluster; c != nil {
		h, p, err := net.SplitHostPort(c.Listen)
		if err != nil {
			s.cleanup()
			return nil, fmt.Errorf("natsd: cluster listen %q: %w", c.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			s.cleanup()
			return nil, fmt.Errorf("natsd: cluster port %q: %w", p, err)
		}
		opts.Cluster = server.ClusterOpts{Name: c.Name, Host: h, Port: n}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil {
				s.cleanup()
				return nil, fmt.Errorf("natsd: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
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

// WaitJetStream waits until JetStream answers account requests (a cluster
// has elected its meta leader), or ctx ends.
func (s *Server) WaitJetStream(ctx context.Context, opts ...nats.Option) error {
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		return fmt.Errorf("natsd: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("natsd: %w", err)
	}
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("natsd: JetStream not ready: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// InProcess is the embedded server, for nats.InProcessServer: a client in
// this process connects without a socket.
func (s *Server) InProcess() *server.Server { return s.ns }
