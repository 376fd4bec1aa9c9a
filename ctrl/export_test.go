package ctrl

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSConn is the connection the server uses now (tests break it).
func (s *Server) NATSConn() *nats.Conn { return s.nbus.conn() }

// Registrar is the server's registrar (tests watch it converge).
func (s *Server) Registrar() *Registrar { return s.registrar }

// NotifyClosed runs what the bus does when nats.go closes nc for good.
func NotifyClosed(s *Server, nc *nats.Conn) { s.nbus.closedForGood(nc) }

// JetStreamWait and EnsureWait are the bounds on JetStream waits.
const (
	JetStreamWait = jetStreamWait
	EnsureWait    = ensureWait
)

// DialBus is XCtrl's NATS bus, for tests that give XCtrl their own registry
// (Deps.Bus and Deps.Registry go together), on a server that is up; close
// stops it.
func DialBus(url string) (b Bus, close func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nb, err := dialNATSBus(ctx, url, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	return nb, nb.close, nil
}

// SocketCap, PreLoginCap and AddrKey are the gate's bounds and its
// per-address key.
var (
	SocketCap   = socketCap
	PreLoginCap = preLoginCap
	AddrKey     = addrKey
)
