package ctrl

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"xccrtc/verto"
)

// WebSocket close codes XCtrl sends.
const (
	closeNormal          = int(ws.StatusNormalClosure)
	closeGoingAway       = int(ws.StatusGoingAway)
	closeProtocolError   = int(ws.StatusProtocolError)
	closePolicyViolation = int(ws.StatusPolicyViolation)
	closeMessageTooBig   = int(ws.StatusMessageTooBig)
	closeAbnormal        = int(ws.StatusAbnormalClosure) // no close frame: the socket just closes
)

// Session is one client WebSocket. While idle it costs no goroutine and
// no buffer: on Linux its socket waits in the server's epoll poller, and a
// short-lived goroutine reads and handles what arrives (wss:// sockets, and
// every socket elsewhere, keep one reader goroutine). Outgoing frames go
// through a capped queue drained by a writer goroutine that exists only
// while there is something to write.
type Session struct {
	srv  *Server
	conn net.Conn
	addr string // client IP (forwarded by a trusted proxy, or the peer's), for login throttling
	port int    // client port (0 when a proxy forwarded the address)
	born int64  // unix nanos

	lastActive atomic.Int64 // unix nanos of the last frame in or out
	lastHeard  atomic.Int64 // unix nanos of the last bytes read
	pinged     atomic.Int64 // unix nanos of the last WebSocket ping sent
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
	unsent   []byte // the rest of a batch writeNow could not write
	// unsentData: the frame data bytes of unsent's batch (in held).
	unsentData int
	// held: the frame data bytes queued or being written (Server.queued
	// counts every socket's); heldGone: counted out at teardown.
	held     int
	heldGone bool
	corked   bool       // the reader is handling frames: replies wait for it
	corkWait bool       // something was queued while corked
	wmu      sync.Mutex // held while frames are written to conn

	// authed: logged in (set once); until then frames are capped at
	// Limits.MaxPreLoginFrameBytes. userRate, the user's buckets, and
	// userWeight, the bytes of the identity a relay adds to each message
	// (len(userRaw)), are set (under mu) before authed, and read by the
	// reader after it.
	authed     atomic.Bool
	userRate   *userRate
	userWeight int
	closed     atomic.Bool
	finished   atomic.Bool
	torn       atomic.Bool
	gone       chan struct{} // closed once finish has told the nodes (xrtc.detach)

	// The read side has one reader at a time: the reader goroutine, or the
	// poller's handler goroutines one after another (ordered by rmu).
	rd      wsReader
	limiter rateLimiter
	strikes rateLimiter // frames over the limit (a flood closes the socket)
	rmu     sync.Mutex
	reading bool            // a poller handler runs (or the socket is not armed yet)
	rc      syscall.RawConn // non-nil: the socket is polled (set before it is shared)
	fd      int
	pollKey uint64
}

type outFrame struct {
	data   []byte
	op     ws.OpCode // 0: text
	close  bool      // write a close frame and close the socket
	code   int
	reason string
}

func newSession(srv *Server, conn net.Conn, addr string) *Session {
	now := time.Now().UnixNano()
	s := &Session{srv: srv, conn: conn, addr: addr, born: now, gone: make(chan struct{}), fd: -1}
	s.rd.max = min(srv.cfg.Limits.MaxPreLoginFrameBytes, srv.cfg.Limits.MaxFrameBytes)
	s.lastActive.Store(now)
	s.lastHeard.Store(now)
	if tc, ok := conn.(syscall.Conn); ok && srv.poller != nil {
		if rc, err := tc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { s.fd = int(fd) })
			if s.fd >= 0 {
				s.rc = rc
				s.reading = true // until start arms it
			}
		}
	}
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

// start begins reading: bytes the upgrade already buffered first, then the
// socket, through the poller or on a reader goroutine.
func (s *Session) start(buffered []byte) {
	if len(buffered) > 0 {
		if err := s.feed(buffered); err != nil {
			s.readError(err)
		}
	}
	if s.rc == nil {
		go s.readLoop()
		return
	}
	s.rmu.Lock()
	if !s.closed.Load() && s.srv.poller.add(s) != nil {
		s.rmu.Unlock()
		s.close(closeAbnormal, "")
		s.rmu.Lock()
	}
	s.rmu.Unlock()
	s.endRead()
}

// readLoop reads a socket that is not polled until it fails, then cleans
// up.
func (s *Session) readLoop() {
	defer s.teardown()
	defer s.close(closeNormal, "")
	buf := make([]byte, s.srv.cfg.Limits.ReadBuffer)
	for {
		n, err := s.conn.Read(buf)
		if n > 0 {
			if perr := s.feed(buf[:n]); perr != nil {
				s.readError(perr)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// feed hands what was read to the frame reader, replies corked.
func (s *Session) feed(b []byte) error {
	s.lastHeard.Store(time.Now().UnixNano())
	s.cork()
	defer s.uncork()
	if s.authed.Load() {
		s.rd.max = s.srv.cfg.Limits.MaxFrameBytes
	}
	return s.rd.feed(b, s)
}

var (
	errAgain = errors.New("ctrl: nothing to read")
	errEOF   = errors.New("ctrl: socket closed by the peer")
)

// readBufs are the polled sockets' read buffers, held only while reading;
// lingerBufs, smaller, are held while a busy socket waits for more.
var (
	readBufs   = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	lingerBufs = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}
)

// onReadable runs on a goroutine of its own when the poller saw the socket
// readable: it reads and handles what is there, then arms the socket again.
func (s *Session) onReadable() {
	s.rmu.Lock()
	s.reading = true
	s.rmu.Unlock()
	bp := readBufs.Get().(*[]byte)
	buf := *bp
	var err error
	// A bounded number of reads, so that one busy socket does not keep its
	// goroutine for ever; epoll reports it again if more is there.
	for i := 0; i < 16 && !s.closed.Load(); i++ {
		var n int
		if n, err = rawRead(s.rc, buf); err != nil {
			break
		}
		if perr := s.feed(buf[:n]); perr != nil {
			s.readError(perr)
			break
		}
		if n < len(buf) {
			break
		}
	}
	readBufs.Put(bp)
	if err == nil || err == errAgain {
		err = s.linger()
	}
	if err != nil && err != errAgain {
		s.close(closeNormal, "")
	}
	s.endRead()
}

// linger keeps reading on this goroutine while the socket is busy: a
// socket that sends again within Timers.ReadLinger is read the direct way
// (Go's own poller wakes this goroutine) instead of through the epoll
// poller and a new goroutine, which adds a scheduling hop to every message.
// Once it is quiet that long, it goes back to the poller (nil).
func (s *Session) linger() error {
	bp := lingerBufs.Get().(*[]byte)
	defer lingerBufs.Put(bp)
	buf := *bp
	d := s.srv.cfg.Timers.ReadLinger
	// The deadline must not outlive the linger: the next raw read of the
	// socket (after epoll) would fail with it.
	defer func() { _ = s.conn.SetReadDeadline(time.Time{}) }()
	var until time.Time
	for !s.closed.Load() {
		// The deadline moves only once half the linger has passed: each
		// move is a timer update, on every message of a busy socket. A
		// quiet socket leaves after d/2 to d.
		if now := time.Now(); now.Add(d / 2).After(until) {
			until = now.Add(d)
			_ = s.conn.SetReadDeadline(until)
		}
		n, err := s.conn.Read(buf)
		if n > 0 {
			if perr := s.feed(buf[:n]); perr != nil {
				s.readError(perr)
				return nil
			}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// endRead arms the socket again, or tears it down when it was closed
// meanwhile. It arms under rmu, which close holds while it unwatches and
// closes the socket: the fd is still this socket's, not a new one's that
// reused its number.
func (s *Session) endRead() {
	s.rmu.Lock()
	s.reading = false
	closed := s.closed.Load()
	var err error
	if !closed {
		err = s.srv.poller.rearm(s)
	}
	s.rmu.Unlock()
	if !closed && err == nil {
		return
	}
	if !closed {
		s.close(closeAbnormal, "")
	}
	s.teardown()
}

// teardown runs once the socket is closed and no reader runs: unwatch,
// forget the socket (finish), count it gone.
func (s *Session) teardown() {
	if s.torn.Swap(true) {
		return
	}
	if s.rc != nil {
		s.srv.poller.forget(s)
	}
	// What is still queued or unsent is never written: it leaves the
	// counts.
	s.outMu.Lock()
	s.closing = true
	s.holdLocked(-s.held)
	s.heldGone = true // a write that ends after this counts nothing
	s.outMu.Unlock()
	s.finish()
	s.srv.wg.Done()
}

// The wsHandler side: what the reader decoded.

func (s *Session) message(data []byte) {
	s.lastActive.Store(time.Now().UnixNano())
	s.srv.handleFrame(s, data)
}

func (s *Session) tooLarge(size int64) {
	s.lastActive.Store(time.Now().UnixNano())
	s.srv.frameTooLarge(s, size)
}

func (s *Session) ping(payload []byte) {
	s.lastActive.Store(time.Now().UnixNano())
	if s.srv.countFrame(s) {
		s.enqueue(outFrame{data: bytes.Clone(payload), op: ws.OpPong})
	}
}

func (s *Session) fragment() { s.srv.countFrame(s) }

// pong: a peer's pong (lastHeard already says it is there) only counts
// against its rate.
func (s *Session) pong() { s.srv.countFrame(s) }

func (s *Session) closeFrame(payload []byte) {
	code, _ := ws.ParseCloseFrameData(payload)
	if code.Empty() || code == ws.StatusNoStatusRcvd || code.IsProtocolReserved() {
		code = ws.StatusNormalClosure
	}
	s.close(int(code), "")
}

// readError fails the connection over what the frame reader refused:
// close 1009 for a message far over the cap (errTooBig), else 1002.
func (s *Session) readError(err error) {
	s.srv.metrics.badFrames.Add(1)
	if errors.Is(err, errTooBig) {
		s.close(closeMessageTooBig, "")
		return
	}
	s.close(closeProtocolError, "")
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
	n := s.outBytes + len(f.data)
	full := len(s.out) >= lim.MaxQueue || n > lim.MaxQueueBytes ||
		// Every socket's queue together is over its bound: a socket
		// that is behind (holds more than slowQueue) goes, whatever its
		// own bound says.
		s.held+len(f.data) > slowQueue && lim.MaxQueuedTotal > 0 && s.srv.queued.Load()+int64(len(f.data)) > int64(lim.MaxQueuedTotal)
	if !f.close && full {
		s.closing = true
		s.out = nil
		s.outMu.Unlock()
		s.srv.metrics.slowDropped.Add(1)
		if s.srv.slowWarned.now(time.Now()) {
			s.logger().Warn("send queue full: dropping a client that does not read; logged once in 10 s",
				"held", s.held, "held_all_sockets", s.srv.queued.Load())
		}
		s.close(closePolicyViolation, "send queue full")
		return false
	}
	if f.close {
		s.closing = true
	}
	s.out, s.outBytes = append(s.out, f), n
	s.holdLocked(len(f.data))
	start := !s.writing
	s.writing = true
	if start && s.corked {
		s.corkWait, start = true, false
	}
	s.outMu.Unlock()
	if start {
		s.flush()
	}
	return true
}

// slowQueue: a socket whose queue holds more than this is behind (a
// reading socket's queue is written at once, or holds what came in one
// burst): it is the one dropped when all queues together are over
// Limits.MaxQueuedTotal.
const slowQueue = 64 << 10

// holdLocked counts n bytes more (less, when negative) that XCtrl holds
// for the socket, queued or being written, in the socket's and the
// server's counts. Call with outMu held.
func (s *Session) holdLocked(n int) {
	if s.heldGone {
		return // torn down: counted out already
	}
	s.held += n
	s.srv.queued.Add(int64(n))
}

// written: frames of data bytes (their payloads) reached the socket.
func (s *Session) written(data int) {
	s.outMu.Lock()
	s.holdLocked(-data)
	s.outMu.Unlock()
}

// flush writes the queue: at once when the socket takes it, else on the
// writer goroutine. The caller holds the writer role.
func (s *Session) flush() {
	if !(s.rc != nil && s.writeNow()) {
		go s.writeLoop()
	}
}

// cork holds the replies made while the reader handles what it read, so
// that they leave in one write (a login's reply and verto.clientReady, a
// batch of pings); uncork writes them.
func (s *Session) cork() {
	s.outMu.Lock()
	s.corked = true
	s.outMu.Unlock()
}

func (s *Session) uncork() {
	s.outMu.Lock()
	s.corked = false
	wait := s.corkWait
	s.corkWait = false
	s.outMu.Unlock()
	if wait {
		s.flush()
	}
}

// frameBufs hold frames encoded for an immediate write.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeNow writes the queue on the caller's goroutine without waiting
// (polled sockets): most frames fit in the socket's buffer at once, and a
// writer goroutine would add a scheduling hop to every relayed message. It
// returns true when it emptied the queue (and gave up the writer role);
// false leaves the rest, and the role, to the writer goroutine: the socket
// buffer is full, a close is queued, or a write is under way.
func (s *Session) writeNow() bool {
	if !s.wmu.TryLock() {
		return false
	}
	defer s.wmu.Unlock()
	buf := frameBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			frameBufs.Put(buf)
		}
	}()
	for {
		s.outMu.Lock()
		batch := s.out
		if len(s.unsent) > 0 {
			s.outMu.Unlock()
			return false
		}
		if len(batch) == 0 {
			s.out = nil
			s.writing = false
			s.outMu.Unlock()
			return true
		}
		for _, f := range batch {
			if f.close {
				s.outMu.Unlock()
				return false
			}
		}
		data := s.outBytes // the batch's frame data
		s.out, s.outBytes = nil, 0
		s.outMu.Unlock()
		buf.Reset()
		for _, f := range batch {
			buf.Write(appendFrameHeader(buf.AvailableBuffer(), f.opcode(), len(f.data)))
			buf.Write(f.data)
		}
		n, err := rawWrite(s.rc, buf.Bytes())
		if err != nil && err != errAgain {
			s.close(closeAbnormal, "")
			return true // the writer role stays taken: nothing is written any more
		}
		if n < buf.Len() {
			// The rest of this batch goes first, on the writer goroutine.
			s.outMu.Lock()
			s.unsent = append([]byte(nil), buf.Bytes()[n:]...)
			s.unsentData = data
			s.outMu.Unlock()
			return false
		}
		s.written(data)
		s.lastActive.Store(time.Now().UnixNano())
	}
}

// appendFrameHeader appends the header of a whole (FIN), unmasked server
// frame of n bytes (RFC 6455 5.2), without the allocation ws.WriteHeader
// makes for every frame: both ways a socket is written use it.
func appendFrameHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

func (f *outFrame) opcode() ws.OpCode {
	if f.op == 0 {
		return ws.OpText
	}
	return f.op
}

// writeBufs batch a writer's frames into few writes.
var writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

// writeLoop drains the queue and exits when it is empty.
func (s *Session) writeLoop() {
	for {
		s.outMu.Lock()
		batch := s.out
		if len(batch) == 0 && len(s.unsent) == 0 {
			s.out = nil
			s.writing = false
			s.outMu.Unlock()
			return
		}
		s.out, s.outBytes = nil, 0
		s.outMu.Unlock()
		if err := s.writeBatch(batch); err != nil {
			s.close(closeAbnormal, "")
			return
		}
		if len(batch) > 0 && batch[len(batch)-1].close {
			f := batch[len(batch)-1]
			s.close(f.code, f.reason)
			return
		}
		s.lastActive.Store(time.Now().UnixNano())
	}
}

// writeBatch writes the data frames of a batch (a close ends it) under one
// deadline, in as few writes as the buffer allows.
func (s *Session) writeBatch(batch []outFrame) error {
	w := writeBufs.Get().(*bufio.Writer)
	w.Reset(s.conn)
	defer func() {
		w.Reset(nil)
		writeBufs.Put(w)
	}()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// The deadline bounds these writes only: a direct write (writeNow)
	// later would fail on it.
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.Timers.Write))
	defer func() { _ = s.conn.SetWriteDeadline(time.Time{}) }()
	s.outMu.Lock()
	unsent, data := s.unsent, s.unsentData
	s.unsent, s.unsentData = nil, 0
	s.outMu.Unlock()
	if _, err := w.Write(unsent); err != nil {
		return err
	}
	for _, f := range batch {
		if f.close {
			break
		}
		if _, err := w.Write(appendFrameHeader(w.AvailableBuffer(), f.opcode(), len(f.data))); err != nil {
			return err
		}
		if _, err := w.Write(f.data); err != nil {
			return err
		}
		data += len(f.data)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	s.written(data)
	return nil
}

// close sends a close frame (best effort, and not while a write is stuck:
// closing the socket unblocks it) and closes the socket; the read side then
// cleans up.
func (s *Session) close(code int, reason string) {
	if s.closed.Swap(true) {
		return
	}
	if code != closeAbnormal && s.wmu.TryLock() {
		if len(reason) > 123 {
			reason = reason[:123]
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(time.Second))
		if b, err := ws.CompileFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason))); err == nil {
			_, _ = s.conn.Write(b) // one write
		}
		s.wmu.Unlock()
	}
	if s.rc == nil {
		_ = s.conn.Close() // the reader goroutine fails and cleans up
		return
	}
	s.rmu.Lock()
	s.srv.poller.remove(s)
	_ = s.conn.Close()
	busy := s.reading
	s.rmu.Unlock()
	if !busy {
		// No reader will see the close: tear down here, off the
		// caller's goroutine (it may hold locks; finish talks to NATS).
		go s.teardown()
	}
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
