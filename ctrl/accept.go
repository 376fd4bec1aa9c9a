package ctrl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// The ws:// listener accepts its connections itself: a WebSocket handshake
// is read and answered with gobwas/ws straight on the accepted connection
// (no net/http request, response writer, bufio pair and hijack per socket,
// about a fifth of what a login costs XCtrl), and the socket goes to the
// poller. Every other request (/healthz, a plain GET that gets 426, a
// handshake to /healthz) goes on, with the bytes already read, to the
// net/http server that serves wss:// the same way.

// headTimeout bounds the wait for a request's head, as net/http's
// ReadHeaderTimeout does.
const headTimeout = 10 * time.Second

// headBufs read request heads; a head must fit (4 KiB, as gobwas/ws's
// default).
var headBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// errHeadTooLarge: the request head does not fit in a head buffer.
var errHeadTooLarge = errors.New("ctrl: request head too large")

// acceptWS accepts on ln until it is closed; other is where requests that
// are not WebSocket handshakes go.
func (s *Server) acceptWS(ln net.Listener, other *connQueue) {
	var wait time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, most likely: back off as net/http
			// does instead of spinning.
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			s.log.Warn("ws accept", "err", err, "retry_in", wait)
			time.Sleep(wait)
			continue
		}
		wait = 0
		go s.handshake(c, other)
	}
}

// handshake reads a request head on a new connection and upgrades it, or
// hands it to net/http.
func (s *Server) handshake(c net.Conn, other *connQueue) {
	_ = c.SetReadDeadline(time.Now().Add(headTimeout))
	br := headBufs.Get().(*bufio.Reader)
	br.Reset(c)
	head, err := readHead(br)
	if err != nil {
		if errors.Is(err, errHeadTooLarge) {
			_, _ = io.WriteString(c, "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		}
		_ = c.Close()
		br.Reset(nil)
		headBufs.Put(br)
		return
	}
	if !isHandshakeHead(head) {
		// The reader goes with the connection: it holds what was read.
		other.push(&peekedConn{Conn: c, r: br})
		return
	}
	host, port := peerAddr(c.RemoteAddr())
	u := &s.wsUpgrader
	var fwd forwardedFor
	if len(s.proxies) > 0 {
		if a, err := netip.ParseAddr(host); err == nil && s.proxies.trusts(a) {
			u = &ws.Upgrader{OnBeforeUpgrade: s.wsUpgrader.OnBeforeUpgrade, OnHeader: fwd.header}
		}
	}
	_, err = u.Upgrade(struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(head), c})
	if err != nil {
		_ = c.Close()
		br.Reset(nil)
		headBufs.Put(br)
		return
	}
	// Frames the client sent right behind its handshake are in the head
	// buffer already.
	_, _ = br.Discard(len(head))
	var early []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		early = bytes.Clone(b)
	}
	br.Reset(nil)
	headBufs.Put(br)
	_ = c.SetReadDeadline(time.Time{})
	if fwd.seen {
		host, port = s.proxies.forwarded(host, port, fwd.xff, fwd.realIP)
	}
	s.openSocket(c, host, port, early)
}

// readHead returns the request head (request line and headers, up to and
// including the blank line) from br without consuming it.
func readHead(br *bufio.Reader) ([]byte, error) {
	scanned := 0
	for {
		if _, err := br.Peek(scanned + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errHeadTooLarge
			}
			return nil, err
		}
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.Index(buf[max(scanned-3, 0):], []byte("\r\n\r\n")); i >= 0 {
			return buf[:max(scanned-3, 0)+i+4], nil
		}
		if len(buf) == br.Size() {
			return nil, errHeadTooLarge
		}
		scanned = len(buf)
	}
}

// isHandshakeHead: the head asks for a WebSocket (Connection: upgrade and
// Upgrade: websocket, as serveWS checks) on any path but /healthz.
func isHandshakeHead(head []byte) bool {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	_, target, _ := bytes.Cut(line, []byte(" "))
	target, _, _ = bytes.Cut(target, []byte(" "))
	path, _, _ := bytes.Cut(target, []byte("?"))
	if string(path) == "/healthz" {
		return false
	}
	var conn, upgrade bool
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(bytes.TrimSpace(k), []byte("Connection")):
			conn = conn || hasToken(v, "upgrade")
		case bytes.EqualFold(bytes.TrimSpace(k), []byte("Upgrade")):
			upgrade = upgrade || hasToken(v, "websocket")
		}
	}
	return conn && upgrade
}

// hasToken: the comma-separated list v holds token (case-insensitive).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(token)) {
			return true
		}
	}
	return false
}

// peerAddr splits a connection's remote address.
func peerAddr(a net.Addr) (string, int) {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String(), ta.Port
	}
	return splitHostPort(a.String())
}

// forwardedFor collects the proxy headers of a handshake from a trusted
// proxy.
type forwardedFor struct {
	xff    []string
	realIP string
	seen   bool
}

func (f *forwardedFor) header(k, v []byte) error {
	switch {
	case bytes.EqualFold(k, []byte("X-Forwarded-For")):
		f.xff, f.seen = append(f.xff, string(v)), true
	case bytes.EqualFold(k, []byte("X-Real-IP")):
		if f.realIP == "" {
			f.realIP, f.seen = string(v), true
		}
	}
	return nil
}

// peekedConn is a connection whose first bytes were read into r already.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// NetConn is the connection under the reader (slotOf finds the gate's
// slot through it).
func (c *peekedConn) NetConn() net.Conn { return c.Conn }

// connQueue is a net.Listener fed by the acceptor: net/http serves the
// requests that are not WebSocket handshakes from it.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		_ = c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
