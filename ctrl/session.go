package ctrl

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// Session is one client WebSocket. While idle it costs one goroutine (its
// reader, blocked in a read) and a small read buffer: outgoing frames go
// through a capped queue drained by a writer goroutine that exists only
// while there is something to write.
type Session struct {
	srv  *Server
	conn *websocket.Conn
	addr string // client IP (forwarded by a trusted proxy, or the peer's), for login throttling
	port int    // client port (0 when a proxy forwarded the address)
	born int64  // unix nanos

	lastActive atomic.Int64 // unix nanos of the last frame in or out
	serverID   atomic.Int64 // ids of server->client requests

	mu      sync.Mutex
	sessid  string
	ident   *Identity
	userRaw json.RawMessage // ident.User marshalled once, for relays
	lease   *Lease
	subs    map[string]struct{}
	punted  bool

	// Owned by Router (under its lock).
	calls map[string]struct{}
	chans []string
	// granted are the conference channels the switch gave this socket on
	// a join (pvtData): allowed whatever the user's
	// jsonrpc-allowed-event-channels say, as mod_verto allows them.
	granted map[string]struct{}

	outMu    sync.Mutex
	out      []outFrame
	outBytes int
	writing  bool
	closing  bool

	closed   atomic.Bool
	finished atomic.Bool
	gone     chan struct{} // closed once finish has told the nodes (xrtc.detach)

	limiter rateLimiter // reader goroutine only
	strikes rateLimiter // frames over the limit (a flood closes the socket); reader only
}

type outFrame struct {
	data   []byte
	close  bool // write a close frame and close the socket
	code   int
	reason string
}

func newSession(srv *Server, conn *websocket.Conn, addr string) *Session {
	now := time.Now().UnixNano()
	s := &Session{srv: srv, conn: conn, addr: addr, born: now, gone: make(chan struct{})}
	s.lastActive.Store(now)
	return s
}

// Sessid is the socket's session id ("" before the client sent one).
func (s *Session) Sessid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessid
}

// Identity is who the socket logged in as (nil before login).
func (s *Session) Identity() *Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ident
}

func (s *Session) loginName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ident == nil {
		return ""
	}
	return s.ident.User.Login
}

func (s *Session) logger() *slog.Logger {
	return s.srv.log.With("sessid", s.Sessid(), "addr", s.addr)
}

// readLoop reads frames until the socket fails, then cleans up.
func (s *Session) readLoop() {
	defer s.srv.wg.Done()
	defer s.finish()
	defer s.close(websocket.CloseNormalClosure, "")
	max := s.srv.cfg.Limits.MaxFrameBytes
	for {
		_, r, err := s.conn.NextReader()
		if err != nil {
			return
		}
		data, over, err := readFrame(r, max)
		if err != nil {
			return
		}
		s.lastActive.Store(time.Now().UnixNano())
		if over {
			s.srv.frameTooLarge(s)
			continue
		}
		s.srv.handleFrame(s, data)
	}
}

var framePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readFrame reads one message up to max bytes. A longer one is read to its
// end and thrown away (over is true): the socket goes on.
func readFrame(r io.Reader, max int) (data []byte, over bool, err error) {
	buf := framePool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			framePool.Put(buf)
		}
	}()
	n, err := buf.ReadFrom(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, false, err
	}
	if n > int64(max) {
		_, err = io.Copy(io.Discard, r)
		return nil, true, err
	}
	return bytes.Clone(buf.Bytes()), false, nil
}

// sendMsg queues a message to the client.
func (s *Session) sendMsg(m *verto.Message) {
	b, err := m.Marshal()
	if err != nil {
		s.logger().Error("marshal reply", "err", err)
		return
	}
	s.sendRaw(b)
}

// sendRequest queues a server->client request with the socket's next id.
func (s *Session) sendRequest(method string, params json.RawMessage) {
	m := &verto.Message{JSONRPC: verto.Version, ID: verto.IntID(s.serverID.Add(1)), Method: method, Params: params}
	s.srv.metrics.relayedToClient(method)
	s.sendMsg(m)
}

// sendRaw queues one frame. A client that does not read fills its queue and
// is dropped.
func (s *Session) sendRaw(b []byte) bool {
	return s.enqueue(outFrame{data: b})
}

// closeAfterFlush writes what is queued, then a close frame, then closes.
func (s *Session) closeAfterFlush(code int, reason string) {
	if !s.enqueue(outFrame{close: true, code: code, reason: reason}) {
		s.close(code, reason)
	}
}

func (s *Session) enqueue(f outFrame) bool {
	lim := &s.srv.cfg.Limits
	s.outMu.Lock()
	if s.closing {
		s.outMu.Unlock()
		return false
	}
	if !f.close && (len(s.out) >= lim.MaxQueue || s.outBytes+len(f.data) > lim.MaxQueueBytes) {
		s.closing = true
		s.out = nil
		s.outMu.Unlock()
		s.srv.metrics.slowDropped.Add(1)
		s.logger().Warn("send queue full: dropping a client that does not read")
		s.close(websocket.ClosePolicyViolation, "send queue full")
		return false
	}
	if f.close {
		s.closing = true
	}
	s.out = append(s.out, f)
	s.outBytes += len(f.data)
	start := !s.writing
	s.writing = true
	s.outMu.Unlock()
	if start {
		go s.writeLoop()
	}
	return true
}

// writeLoop drains the queue and exits when it is empty.
func (s *Session) writeLoop() {
	for {
		s.outMu.Lock()
		batch := s.out
		if len(batch) == 0 {
			s.out = nil
			s.writing = false
			s.outMu.Unlock()
			return
		}
		s.out, s.outBytes = nil, 0
		s.outMu.Unlock()
		wt := s.srv.cfg.Timers.Write
		for _, f := range batch {
			if f.close {
				s.close(f.code, f.reason)
				return
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(wt))
			if err := s.conn.WriteMessage(websocket.TextMessage, f.data); err != nil {
				s.close(websocket.CloseAbnormalClosure, "")
				return
			}
		}
		s.lastActive.Store(time.Now().UnixNano())
	}
}

// close sends a close frame (best effort) and closes the socket; the reader
// then fails and cleans up.
func (s *Session) close(code int, reason string) {
	if s.closed.Swap(true) {
		return
	}
	if code != websocket.CloseAbnormalClosure {
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
			time.Now().Add(time.Second))
	}
	_ = s.conn.Close()
}

// finish forgets the socket (tables, registry, nodes' detach) once: from its
// reader when the socket failed, or earlier from a takeover while the punt
// is still being written.
func (s *Session) finish() {
	if s.finished.Swap(true) {
		return
	}
	defer close(s.gone)
	s.srv.sessionClosed(s)
}

// waitGone waits until finish has run to its end (in whichever goroutine
// runs it), at most d.
func (s *Session) waitGone(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.gone:
	case <-t.C:
	}
}

// mayUseChannelLocked: the user's jsonrpc-allowed-event-channels allow ch, or a
// conference join granted it to this socket. Call with s.mu held.
func (s *Session) mayUseChannelLocked(id *Identity, ch string) bool {
	if id.EventChannelAllowed(ch) {
		return true
	}
	_, ok := s.granted[ch]
	return ok
}

// grant records (join) or withdraws (part) conference channels.
func (s *Session) grant(chans []string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range chans {
		if on {
			if s.granted == nil {
				s.granted = make(map[string]struct{}, len(chans))
			}
			s.granted[ch] = struct{}{}
		} else {
			delete(s.granted, ch)
		}
	}
}
