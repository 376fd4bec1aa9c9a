package ctrl

import (
	"log/slog"

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
// (Deps.Bus and Deps.Registry go together); close stops it.
func DialBus(url string) (b Bus, close func(), err error) {
	nb, err := dialNATSBus(url, slog.New(slog.DiscardHandler))
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
