package ctrl

import "github.com/nats-io/nats.go"

// NATSConn is the connection the server uses now (tests break it).
func (s *Server) NATSConn() *nats.Conn { return s.nbus.conn() }

// Registrar is the server's registrar (tests watch it converge).
func (s *Server) Registrar() *Registrar { return s.registrar }

// NotifyClosed runs what the bus does when nats.go closes nc for good.
func NotifyClosed(s *Server, nc *nats.Conn) { s.nbus.closedForGood(nc) }
