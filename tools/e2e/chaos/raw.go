package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// raw is a bare WebSocket to XCtrl: the hostile scenarios write exactly the
// frames they want and read what comes back.
type raw struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	id     atomic.Int64
	in     chan *verto.Message
	closed chan struct{}
	code   atomic.Int64 // close code from XCtrl (0: none seen)
	endErr error        // why reading stopped (set before closed is closed)
}

func dialRaw(ctx context.Context, url string, read bool) (*raw, error) {
	return dialRawFrom(ctx, url, "", read)
}

// dialRawFrom dials from the local IP from ("": any).
func dialRawFrom(ctx context.Context, url, from string, read bool) (*raw, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	if from != "" {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	r := &raw{ws: ws, in: make(chan *verto.Message, 64), closed: make(chan struct{})}
	if read {
		go r.read()
	}
	return r, nil
}

func (r *raw) read() {
	defer close(r.closed)
	for {
		_, b, err := r.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				r.code.Store(int64(ce.Code))
			}
			r.endErr = err
			return
		}
		var m verto.Message
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		select {
		case r.in <- &m:
		default: // nobody reads what the flood provokes
		}
	}
}

func (r *raw) write(b []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_ = r.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return r.ws.WriteMessage(websocket.TextMessage, b)
}

// request sends method with params and waits for its reply: the reply
// with its id, or an error with a null id (a frame XCtrl could not read,
// e.g. one too large, is answered so; one request is in flight at a time).
func (r *raw) request(ctx context.Context, method string, params any) (*verto.Message, error) {
	id := r.id.Add(1)
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := r.write(b); err != nil {
		return nil, err
	}
	for {
		select {
		case m := <-r.in:
			if got, ok := m.ID.Int(); ok && got == id && (m.Result != nil || m.Error != nil) {
				return m, nil
			}
			if m.Error != nil && m.Method == "" && (m.ID.IsNull() || m.ID.IsZero()) {
				return m, nil
			}
		case <-r.closed:
			return nil, fmt.Errorf("socket closed (code %d)", r.code.Load())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// login logs the socket in as user with sessid.
func (r *raw) login(ctx context.Context, user, sessid string) error {
	m, err := r.request(ctx, verto.MethodLogin, map[string]any{"login": user, "passwd": Password, "sessid": sessid})
	if err != nil {
		return err
	}
	if m.Error != nil {
		return m.Error
	}
	return nil
}

// outcome says how the socket ended (after closed): the close code XCtrl
// sent, or the error.
func (r *raw) outcome() string {
	if c := r.code.Load(); c != 0 {
		return fmt.Sprintf("close %d", c)
	}
	if r.endErr != nil {
		return r.endErr.Error()
	}
	return "open"
}

func (r *raw) close() {
	_ = r.ws.Close()
}
