package ctrl

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// gate bounds the client connections XCtrl holds, so that one client cannot
// take every file descriptor of the process: that would lock every other
// client out and leave none for NATS, JetStream or the health check. Two
// bounds:
//
//   - Limits.MaxSockets, every connection accepted on the ws:// and wss://
//     listeners, from accept to close, whatever it became (a Verto socket,
//     an HTTP request, a handshake that never came): a new one past it is
//     closed at once. By default the open-file limit less a reserve for
//     what else the process opens (socketCap).
//   - Limits.MaxPreLoginPerAddr, the connections of one client address that
//     have not logged in: its slot is given back at login (or close), so
//     an address holds any number of logged-in sockets but cannot stack up
//     sockets that never log in. IPv6 addresses count by their /64, the
//     block one client usually has. A trusted proxy's own address does not
//     count; the address it forwards does, from the handshake on.
type gate struct {
	max, perAddr int
	open         atomic.Int64

	mu  sync.Mutex
	pre map[netip.Addr]int

	refused func(reason string, addr netip.Addr)
	warned  logEvery // refusals logged
}

// Reasons a connection was refused, as xctrl_sockets_refused_total counts
// them.
const (
	refusedCapacity = "capacity"
	refusedAddress  = "address"
)

func newGate(max, perAddr int, refused func(reason string, addr netip.Addr)) *gate {
	return &gate{max: max, perAddr: perAddr, pre: map[netip.Addr]int{}, refused: refused}
}

// addrKey is the per-address key of a, and false when a is not an IP.
func addrKey(a netip.Addr) (netip.Addr, bool) {
	if !a.IsValid() {
		return a, false
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr(), true
	}
	return a, true
}

// admit takes a slot for a new connection from peer (its pre-login slot
// too, unless peer is a trusted proxy): nil when refused, the connection
// then closed.
func (g *gate) admit(c *net.TCPConn, peer netip.Addr, proxy bool) *slotConn {
	if g.open.Add(1) > int64(g.max) {
		g.open.Add(-1)
		g.refuse(refusedCapacity, peer)
		_ = c.Close()
		return nil
	}
	sc := &slotConn{TCPConn: c, g: g, peer: peer, proxy: proxy}
	if !proxy && !sc.takeAddr(peer) {
		g.open.Add(-1)
		_ = c.Close()
		return nil
	}
	return sc
}

func (g *gate) refuse(reason string, addr netip.Addr) {
	if g.refused != nil {
		g.refused(reason, addr)
	}
}

// slotConn is an accepted connection holding its slot in the gate until it
// is closed, and its address's pre-login slot until it logs in.
type slotConn struct {
	*net.TCPConn
	g *gate

	peer  netip.Addr
	proxy bool // peer is a trusted proxy: its address is not counted

	mu     sync.Mutex
	addr   netip.Addr // the pre-login slot held, if valid
	closed bool
}

// forwarded takes the pre-login slot of host, the client address a trusted
// proxy forwarded; true when taken, or not needed (no proxy, or the proxy
// named no other address).
func (c *slotConn) forwarded(host string) bool {
	if !c.proxy {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Unmap() == c.peer.Unmap() {
		return true
	}
	return c.takeAddr(a)
}

// takeAddr takes a pre-login slot of a's address for the connection
// (counting it when refused); true when the address is under its bound or
// is no IP.
func (c *slotConn) takeAddr(a netip.Addr) bool {
	key, ok := addrKey(a)
	if !ok {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	g := c.g
	g.mu.Lock()
	if g.pre[key] >= g.perAddr {
		g.mu.Unlock()
		g.refuse(refusedAddress, key)
		return false
	}
	g.pre[key]++
	g.mu.Unlock()
	c.addr = key
	return true
}

// loggedIn gives back the pre-login slot.
func (c *slotConn) loggedIn() {
	c.mu.Lock()
	key := c.addr
	c.addr = netip.Addr{}
	c.mu.Unlock()
	c.g.release(key)
}

// release gives back a pre-login slot of key (none when key is not valid).
func (g *gate) release(key netip.Addr) {
	if !key.IsValid() {
		return
	}
	g.mu.Lock()
	if n := g.pre[key] - 1; n > 0 {
		g.pre[key] = n
	} else {
		delete(g.pre, key)
	}
	g.mu.Unlock()
}

// Close gives back the connection's slots (once) and closes it.
func (c *slotConn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	key := c.addr
	c.addr = netip.Addr{}
	c.mu.Unlock()
	if first {
		c.g.release(key)
		c.g.open.Add(-1)
	}
	return c.TCPConn.Close()
}

// slotOf is the gate's connection under c (a TLS connection's too), or
// nil.
func slotOf(c net.Conn) *slotConn {
	for {
		switch v := c.(type) {
		case *slotConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
}

// gatedListener admits the connections of a listener through the gate.
type gatedListener struct {
	net.Listener
	g       *gate
	proxies proxies
	sndbuf  int // SO_SNDBUF of each admitted connection (0: the kernel's own)
}

// gated admits ln's connections through the server's gate.
func (s *Server) gated(ln net.Listener) net.Listener {
	return &gatedListener{Listener: ln, g: s.gate, proxies: s.proxies, sndbuf: max(s.cfg.Limits.SocketSendBuffer, 0)}
}

// Accept returns the next admitted connection; refused ones are closed and
// skipped.
func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			return c, nil
		}
		var peer netip.Addr
		if ta, ok := tc.RemoteAddr().(*net.TCPAddr); ok {
			peer, _ = netip.AddrFromSlice(ta.IP)
		}
		if sc := l.g.admit(tc, peer, peer.IsValid() && l.proxies.trusts(peer)); sc != nil {
			if l.sndbuf > 0 {
				// A fixed size: the kernel no longer grows it (up to
				// tcp_wmem's 4 MiB) for a client that read fast once.
				_ = tc.SetWriteBuffer(l.sndbuf)
			}
			return sc, nil
		}
	}
}

// socketCap is the bound on client connections: Limits.MaxSockets when set,
// else the open-file limit nofile less a reserve for what else the process
// opens (an eighth of it, from 64 to 1,024): the NATS connections (the
// embedded server's too: nodes and other instances), JetStream's files,
// the metrics listener and its scrapes.
func socketCap(configured int, nofile uint64) int {
	if configured > 0 {
		return configured
	}
	return max(int(min(nofile, 1<<24))-fileReserve(nofile), 1)
}

// fileReserve is the part of the open-file limit nofile that client
// connections leave: an eighth, from 64 to 1,024. The embedded NATS server
// may hold half of it in connections.
func fileReserve(nofile uint64) int {
	return min(max(int(min(nofile, 1<<24))/8, 64), 1024)
}

// preLoginCap is the bound on one address's connections that have not
// logged in: Limits.MaxPreLoginPerAddr when set, else 256, or a quarter of
// the socket bound when that is less (one address never fills it alone).
func preLoginCap(configured, sockets int) int {
	if configured > 0 {
		return configured
	}
	return max(min(256, sockets/4), 1)
}
