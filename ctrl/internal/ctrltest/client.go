package ctrltest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// Client is a raw Verto WebSocket client for tests: it sends JSON-RPC and
// lets a test wait for replies and server requests.
type Client struct {
	Sessid string
	conn   *websocket.Conn

	wmu    sync.Mutex
	nextID int64

	mu      sync.Mutex
	queue   []*verto.Message
	changed chan struct{}
	err     error // the read error that ended the client
	done    chan struct{}
	close   *websocket.CloseError
}

// Dial connects to url with a new sessid.
func Dial(ctx context.Context, url string) (*Client, error) {
	return DialSessid(ctx, url, newSessid())
}

// DialSessid connects with a given sessid (a reload keeps it).
func DialSessid(ctx context.Context, url, sessid string) (*Client, error) {
	return dial(ctx, url, sessid, http.Header{}, nil)
}

// DialFrom connects from a given local IP address (127.0.0.N: another
// client address on the loopback).
func DialFrom(ctx context.Context, url, ip string) (*Client, error) {
	return dial(ctx, url, newSessid(), http.Header{}, &net.TCPAddr{IP: net.ParseIP(ip)})
}

// DialHeader connects with a new sessid and extra HTTP headers (a proxy's
// X-Forwarded-For).
func DialHeader(ctx context.Context, url string, hdr map[string]string) (*Client, error) {
	h := http.Header{}
	for k, v := range hdr {
		h.Set(k, v)
	}
	return dial(ctx, url, newSessid(), h, nil)
}

func dial(ctx context.Context, url, sessid string, hdr http.Header, local net.Addr) (*Client, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if local != nil {
		nd := &net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}
		d.NetDialContext = nd.DialContext
	}
	conn, resp, err := d.DialContext(ctx, url, hdr)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &Client{Sessid: sessid, conn: conn, changed: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func newSessid() string {
	return fmt.Sprintf("sess-%d-%d", time.Now().UnixNano(), sessSeq.add())
}

var sessSeq counter

type counter struct {
	mu sync.Mutex
	n  int64
}

func (c *counter) add() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			if ce, ok := err.(*websocket.CloseError); ok {
				c.close = ce
			}
			c.notifyLocked()
			c.mu.Unlock()
			return
		}
		f, err := verto.Decode(b, verto.Limits{MaxBytes: 16 << 20, MaxBatch: 1 << 10})
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.queue = append(c.queue, f.Msgs...)
		c.notifyLocked()
		c.mu.Unlock()
	}
}

func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// SendRaw writes one text frame as is.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

// Send writes a request and returns its id. params is marshalled; the
// client's sessid is added to a map or struct-less params.
func (c *Client) Send(method string, params map[string]any) int64 {
	c.wmu.Lock()
	c.nextID++
	id := c.nextID
	c.wmu.Unlock()
	if params == nil {
		params = map[string]any{}
	}
	if _, ok := params["sessid"]; !ok {
		params["sessid"] = c.Sessid
	}
	m, _ := verto.NewRequest(verto.IntID(id), method, params)
	b, _ := m.Marshal()
	_ = c.SendRaw(b)
	return id
}

// Ack answers a server request the way verto.js does.
func (c *Client) Ack(m *verto.Message) {
	r, _ := verto.NewResult(m.ID, map[string]string{"method": m.Method})
	b, _ := r.Marshal()
	_ = c.SendRaw(b)
}

// Call sends a request and waits for its reply.
func (c *Client) Call(ctx context.Context, method string, params map[string]any) (*verto.Message, error) {
	id := c.Send(method, params)
	return c.Reply(ctx, id)
}

// Reply waits for the reply with id.
func (c *Client) Reply(ctx context.Context, id int64) (*verto.Message, error) {
	want := verto.IntID(id)
	return c.Next(ctx, func(m *verto.Message) bool {
		k := m.Kind()
		return (k == verto.KindResult || k == verto.KindError) && m.ID.Equal(want)
	})
}

// Expect waits for a server request with method (and consumes it).
func (c *Client) Expect(ctx context.Context, method string) (*verto.Message, error) {
	return c.Next(ctx, func(m *verto.Message) bool { return m.Kind() == verto.KindRequest && m.Method == method })
}

// ExpectCall waits for a server request with method about callID.
func (c *Client) ExpectCall(ctx context.Context, method, callID string) (*verto.Message, error) {
	return c.Next(ctx, func(m *verto.Message) bool {
		return m.Kind() == verto.KindRequest && m.Method == method && Param(m, "callID") == callID
	})
}

// Next waits for the first queued message that match accepts, removing it
// from the queue.
func (c *Client) Next(ctx context.Context, match func(*verto.Message) bool) (*verto.Message, error) {
	for {
		c.mu.Lock()
		for i, m := range c.queue {
			if match(m) {
				c.queue = append(c.queue[:i:i], c.queue[i+1:]...)
				c.mu.Unlock()
				return m, nil
			}
		}
		if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return nil, fmt.Errorf("connection ended: %w", err)
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting: %w (queued: %s)", ctx.Err(), c.Pending())
		}
	}
}

// Pending describes the queued messages (for failure messages).
func (c *Client) Pending() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ""
	for _, m := range c.queue {
		b, _ := m.Marshal()
		if len(b) > 200 {
			b = append(b[:200], "..."...)
		}
		s += string(b) + " "
	}
	return s
}

// Has reports whether a queued message matches, without waiting.
func (c *Client) Has(match func(*verto.Message) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.queue {
		if match(m) {
			return true
		}
	}
	return false
}

// Login runs verto.js's login: an empty login (answered -32000), then the
// credentials, then verto.clientReady. It returns the login reply and the
// clientReady request.
func (c *Client) Login(ctx context.Context, login, passwd string, loginParams map[string]any) (*verto.Message, *verto.Message, error) {
	first, err := c.Call(ctx, verto.MethodLogin, map[string]any{})
	if err != nil {
		return nil, nil, err
	}
	if first.Error == nil || first.Error.Code != verto.CodeAuthRequired {
		return first, nil, fmt.Errorf("empty login: want -32000, got %s", mustString(first))
	}
	p := map[string]any{"login": login, "passwd": passwd}
	if loginParams != nil {
		p["loginParams"] = loginParams
	}
	res, err := c.Call(ctx, verto.MethodLogin, p)
	if err != nil {
		return nil, nil, err
	}
	if res.Error != nil {
		return res, nil, fmt.Errorf("login %s: %s", login, mustString(res))
	}
	ready, err := c.Expect(ctx, verto.MethodClientReady)
	return res, ready, err
}

// Closed waits until the server closes the socket and returns its close
// error (nil when it closed without a close frame).
func (c *Client) Closed(ctx context.Context) (*websocket.CloseError, error) {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.close, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes the socket and waits for the reader.
func (c *Client) Close() {
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.conn.Close()
	<-c.done
}

// Param returns a top-level string param of a request (or result field of
// a result).
func Param(m *verto.Message, k string) string {
	raw := m.Params
	if m.Result != nil {
		raw = m.Result
	}
	o, err := verto.ParseObject(raw)
	if err != nil {
		return ""
	}
	return o.String(k)
}

// Decode decodes a request's params (or a result) into v.
func Decode(m *verto.Message, v any) error {
	raw := m.Params
	if m.Result != nil {
		raw = m.Result
	}
	return json.Unmarshal(raw, v)
}

func mustString(m *verto.Message) string {
	b, _ := m.Marshal()
	return string(b)
}

// Drain forgets every queued message.
func (c *Client) Drain() {
	c.mu.Lock()
	c.queue = nil
	c.mu.Unlock()
}
