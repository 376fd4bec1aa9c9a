package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// wsConn is one WebSocket carrying Verto JSON-RPC: integer ids counting up
// from 1 on each socket, replies matched to requests, server requests handed
// to handle (on the read goroutine: handle must not wait for a reply).
type wsConn struct {
	ws     *websocket.Conn
	log    *slog.Logger
	handle func(*wsConn, *verto.Message)

	wmu    sync.Mutex
	nextID atomic.Int64

	mu      sync.Mutex
	pending map[int64]chan *verto.Message
	err     error
	done    chan struct{} // closed when the read loop ends

	ready      chan struct{} // closed on verto.clientReady
	readyOnce  sync.Once
	connecting atomic.Bool // connect is logging in on this socket
	silent     atomic.Bool // Client.GoSilent: nothing leaves the socket
}

// wsLimits accept larger frames than a server would: SDPs and liveArray
// snapshots come this way.
var wsLimits = verto.Limits{MaxBytes: 4 << 20, MaxBatch: 256}

func dialWS(ctx context.Context, o *Options, url string) (*websocket.Conn, error) {
	d := websocket.Dialer{
		HandshakeTimeout: o.RequestTimeout,
		TLSClientConfig:  o.TLS,
	}
	ws, resp, err := d.DialContext(ctx, url, o.Header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	ws.SetReadLimit(int64(wsLimits.MaxBytes))
	return ws, nil
}

func newWSConn(ws *websocket.Conn, log *slog.Logger, handle func(*wsConn, *verto.Message)) *wsConn {
	w := &wsConn{
		ws: ws, log: log, handle: handle,
		pending: make(map[int64]chan *verto.Message),
		done:    make(chan struct{}),
		ready:   make(chan struct{}),
	}
	// Pings are answered as gorilla's default handler does, unless the
	// socket went silent.
	ws.SetPingHandler(func(data string) error {
		if !w.silent.Load() {
			_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		}
		return nil
	})
	go w.readLoop()
	return w
}

func (w *wsConn) readLoop() {
	var err error
	defer func() {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("%w: %v", ErrSocketClosed, err)
		}
		w.mu.Unlock()
		close(w.done)
	}()
	for {
		var data []byte
		_, data, err = w.ws.ReadMessage()
		if err != nil {
			return
		}
		w.log.Debug("verto recv", "frame", string(data))
		f, derr := verto.Decode(data, wsLimits)
		if derr != nil {
			w.log.Warn("verto: undecodable frame", "err", derr)
			continue
		}
		for _, e := range f.Errs {
			w.log.Warn("verto: bad batch member", "err", e)
		}
		for _, m := range f.Msgs {
			w.dispatch(m)
		}
	}
}

func (w *wsConn) dispatch(m *verto.Message) {
	switch m.Kind() {
	case verto.KindResult, verto.KindError:
		id, ok := m.ID.Int()
		if !ok {
			return
		}
		w.mu.Lock()
		ch := w.pending[id]
		delete(w.pending, id)
		w.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	default:
		w.handle(w, m)
	}
}

// call sends a request and returns the server's reply (a result or an
// error message). The error is only for transport failures.
func (w *wsConn) call(ctx context.Context, method string, params any) (*verto.Message, error) {
	id := w.nextID.Add(1)
	m, err := verto.NewRequest(verto.IntID(id), method, params)
	if err != nil {
		return nil, err
	}
	ch := make(chan *verto.Message, 1)
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return nil, err
	}
	w.pending[id] = ch
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.pending, id)
		w.mu.Unlock()
	}()
	if err := w.write(m); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-w.done:
		return nil, w.closeErr()
	case <-ctx.Done():
		return nil, fmt.Errorf("client: %s: %w", method, ctx.Err())
	}
}

func (w *wsConn) write(m *verto.Message) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if w.silent.Load() {
		w.log.Debug("verto: silent socket, not sent", "frame", string(b))
		return nil
	}
	w.log.Debug("verto send", "frame", string(b))
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_ = w.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := w.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("%w: %v", ErrSocketClosed, err)
	}
	return nil
}

// ack answers a server request about a call as verto.js does.
func (w *wsConn) ack(m *verto.Message) {
	r, err := verto.NewResult(m.ID, verto.AckResult{Method: m.Method})
	if err == nil {
		if err := w.write(r); err != nil {
			w.log.Debug("verto: ack not sent", "err", err)
		}
	}
}

func (w *wsConn) closeErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return ErrSocketClosed
	}
	return w.err
}

// setErr records why the socket is going away, before it closes.
func (w *wsConn) setErr(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// close says goodbye with a close frame, then closes; it waits for the read
// loop.
func (w *wsConn) close(err error) {
	w.setErr(err)
	w.wmu.Lock()
	_ = w.ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	w.wmu.Unlock()
	_ = w.ws.Close()
	<-w.done
}

// abort drops the connection without a close frame, as a page reload or a
// crash does; it waits for the read loop.
func (w *wsConn) abort(err error) {
	w.setErr(err)
	_ = w.ws.NetConn().Close()
	<-w.done
}

func isSocketErr(err error) bool { return errors.Is(err, ErrSocketClosed) }
