package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"xccrtc/verto"
)

// Client is one Verto session: a WebSocket (replaced by Reload), a sessid
// and the calls on it. Its methods are safe for concurrent use.
type Client struct {
	opts   Options
	log    *slog.Logger
	sessid string
	ctx    context.Context // done when the client ends
	cancel context.CancelFunc

	mu         sync.Mutex
	url        string
	conn       *wsConn       // nil while reloading
	connCh     chan struct{} // closed when conn is set
	login      verto.LoginResult
	reattached []string
	calls      map[string]*Call
	confs      map[string]*Conference // by laChannel
	reloads    int
	reconnects int
	away       bool // reconnecting after a lost socket
	closed     bool
	err        error
	incoming   chan *Call
	done       chan struct{}
	bg         sync.WaitGroup
}

// Dial connects to opts.URL and logs in. It returns once the login is
// accepted and verto.clientReady arrived (or Options.ReadyTimeout passed).
func Dial(ctx context.Context, opts Options) (*Client, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, err
	}
	sessid, err := opts.resolveSessid()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		ctx:      ctx,
		cancel:   cancel,
		opts:     opts,
		log:      opts.Logger.With("sessid", sessid),
		sessid:   sessid,
		connCh:   make(chan struct{}),
		calls:    make(map[string]*Call),
		confs:    make(map[string]*Conference),
		incoming: make(chan *Call, opts.IncomingBuffer),
		done:     make(chan struct{}),
	}
	if _, err := c.connect(ctx, opts.URL); err != nil {
		cancel()
		return nil, err
	}
	return c, nil
}

// Sessid returns the session id.
func (c *Client) Sessid() string { return c.sessid }

// URL returns the address of the current (or last) socket.
func (c *Client) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url
}

// LoginResult returns the server's answer to the last login.
func (c *Client) LoginResult() verto.LoginResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.login
}

// Reattached returns reattached_sessions of the last verto.clientReady.
func (c *Client) Reattached() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reattached...)
}

// Reloads returns how many times Reload reconnected.
func (c *Client) Reloads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloads
}

// Reconnects returns how many times the client reconnected after losing
// its socket (Options.Reconnect).
func (c *Client) Reconnects() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reconnects
}

// Incoming delivers calls the server offers (verto.invite), ringing: answer
// them with Call.Answer or refuse with Call.Reject. It is closed when the
// client ends.
func (c *Client) Incoming() <-chan *Call { return c.incoming }

// Done is closed when the client ended: Close, verto.punt or a lost socket.
func (c *Client) Done() <-chan struct{} { return c.done }

// GoSilent makes the client's socket fall silent as the socket of a peer
// that vanished does (a laptop lid shut, a NAT that forgot it): it reads on,
// but nothing leaves it any more, not even the pong to a WebSocket ping,
// and it is not closed. For QA of the server's peer timeout: XCtrl closes
// such a socket after --peer-timeout. A later reconnect or Reload speaks
// on a new socket.
func (c *Client) GoSilent() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.silent.Store(true)
	}
}

// Err says why the client ended: nil after Close, ErrPunted, or a socket
// error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Calls returns the calls that have not ended.
func (c *Client) Calls() []*Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Call, 0, len(c.calls))
	for _, call := range c.calls {
		out = append(out, call)
	}
	return out
}

// connect opens a socket to url, logs in and waits for verto.clientReady.
func (c *Client) connect(ctx context.Context, url string) (*wsConn, error) {
	ws, err := dialWS(ctx, &c.opts, url)
	if err != nil {
		return nil, err
	}
	conn := newWSConn(ws, c.log, c.handle)
	conn.connecting.Store(true)
	defer conn.connecting.Store(false)
	if err := c.doLogin(ctx, conn, true); err != nil {
		conn.close(err)
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.close(ErrClosed)
		return nil, ErrClosed
	}
	c.conn = conn
	c.url = url
	close(c.connCh)
	c.mu.Unlock()
	go c.watch(conn)

	t := time.NewTimer(c.opts.ReadyTimeout)
	defer t.Stop()
	select {
	case <-conn.ready:
		c.emit(EventReady, "", fmt.Sprintf("reattached %v", c.Reattached()), nil)
	case <-t.C:
		c.log.Warn("no verto.clientReady after login", "waited", c.opts.ReadyTimeout)
	case <-ctx.Done():
		return conn, ctx.Err()
	}
	return conn, nil
}

// doLogin logs in as verto.js does: on a new socket, login with only the
// sessid, then with credentials when the server answers -32000; after a
// -32000 to another request (first false), credentials straight away.
func (c *Client) doLogin(ctx context.Context, conn *wsConn, first bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var r *verto.Message
	var err error
	if first {
		if r, err = conn.call(ctx, verto.MethodLogin, verto.LoginParams{Sessid: c.sessid}); err != nil {
			return err
		}
	} else {
		r = &verto.Message{Error: verto.ErrAuthRequired}
	}
	if r.Error != nil {
		if r.Error.Code != verto.CodeAuthRequired {
			return &LoginError{Err: r.Error}
		}
		if r, err = conn.call(ctx, verto.MethodLogin, c.loginParams()); err != nil {
			return err
		}
		if r.Error != nil {
			return &LoginError{Err: r.Error}
		}
	}
	var lr verto.LoginResult
	if err := r.DecodeResult(&lr); err != nil {
		return fmt.Errorf("client: login result: %w", err)
	}
	c.mu.Lock()
	c.login = lr
	c.mu.Unlock()
	c.emit(EventLoggedIn, "", lr.Message, r.Result)
	return nil
}

func (c *Client) loginParams() verto.LoginParams {
	lp := make(map[string]any, len(c.opts.LoginParams)+2)
	for k, v := range c.opts.LoginParams {
		lp[k] = v
	}
	passwd := c.opts.Passwd
	if c.opts.XUISessid != "" {
		lp["xui_sessid"] = c.opts.XUISessid
	}
	if c.opts.XCCToken != "" {
		lp["xcc_token"] = c.opts.XCCToken
	}
	if passwd == "" && (c.opts.XUISessid != "" || c.opts.XCCToken != "") {
		passwd = "x"
	}
	uv := c.opts.UserVariables
	if uv == nil {
		uv = map[string]any{}
	}
	return verto.LoginParams{
		Login:         c.opts.Login,
		Passwd:        passwd,
		LoginParams:   lp,
		UserVariables: uv,
		Sessid:        c.sessid,
	}
}

// currentConn returns the socket, waiting while a reload is under way.
func (c *Client) currentConn(ctx context.Context) (*wsConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			err := c.err
			c.mu.Unlock()
			if err == nil {
				err = ErrClosed
			}
			return nil, err
		}
		if c.conn != nil {
			conn := c.conn
			c.mu.Unlock()
			return conn, nil
		}
		ch := c.connCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.ctx.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// request sends a request on the current socket. A -32000 reply to anything
// but login makes it log in again and resend once, as verto.js does. A
// server error comes back as *verto.Error, with the message.
func (c *Client) request(ctx context.Context, method string, params any, timeout time.Duration) (*verto.Message, error) {
	if timeout <= 0 {
		timeout = c.opts.RequestTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := c.currentConn(ctx)
	if err != nil {
		return nil, err
	}
	return c.requestOn(ctx, conn, method, params)
}

func (c *Client) requestOn(ctx context.Context, conn *wsConn, method string, params any) (*verto.Message, error) {
	r, err := conn.call(ctx, method, params)
	if err != nil {
		return nil, err
	}
	if r.Error != nil && r.Error.Code == verto.CodeAuthRequired && method != verto.MethodLogin {
		c.log.Info("authentication required: logging in again", "method", method)
		if err := c.doLogin(ctx, conn, false); err != nil {
			return nil, err
		}
		if r, err = conn.call(ctx, method, params); err != nil {
			return nil, err
		}
	}
	if r.Error != nil {
		return r, r.Error
	}
	return r, nil
}

// Ping sends verto.ping and waits for the PONG.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.request(ctx, verto.MethodPing, struct {
		Sessid string `json:"sessid"`
	}{c.sessid}, 0)
	return err
}

// Subscribe subscribes to event channels; their verto.event messages come
// to Options.OnEvent (EventVerto) unless a Conference claims them.
func (c *Client) Subscribe(ctx context.Context, channels ...string) (verto.SubscribeResult, error) {
	var res verto.SubscribeResult
	r, err := c.request(ctx, verto.MethodSubscribe, verto.SubscribeParams{EventChannel: channels, Sessid: c.sessid}, 0)
	if err != nil {
		return res, err
	}
	err = r.DecodeResult(&res)
	return res, err
}

// Broadcast sends verto.broadcast with data on channel.
func (c *Client) Broadcast(ctx context.Context, channel string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = c.request(ctx, verto.MethodBroadcast, verto.BroadcastParams{EventChannel: channel, Data: raw, Sessid: c.sessid}, 0)
	return err
}

// SendMessage sends a chat message outside any call (verto.info msg).
func (c *Client) SendMessage(ctx context.Context, to, body string) error {
	_, err := c.request(ctx, verto.MethodInfo, verto.CallParams{
		Sessid: c.sessid,
		Msg:    &verto.ChatMessage{To: to, Body: body},
	}, 0)
	return err
}

// goBG runs f in the background unless the client is closed; Close waits
// for it.
func (c *Client) goBG(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		f()
	}()
	return true
}

// handle takes a server request or notification, on the socket's read
// goroutine.
func (c *Client) handle(conn *wsConn, m *verto.Message) {
	switch m.Method {
	case verto.MethodClientReady:
		var p verto.ClientReadyParams
		_ = m.DecodeParams(&p)
		c.mu.Lock()
		c.reattached = p.ReattachedSessions
		c.mu.Unlock()
		conn.readyOnce.Do(func() { close(conn.ready) })
		if !conn.connecting.Load() { // else connect reports it, after the login
			c.emit(EventReady, "", fmt.Sprintf("reattached %v", p.ReattachedSessions), m.Params)
		}
	case verto.MethodPunt:
		c.emit(EventPunt, "", "logged in elsewhere", m.Params)
		conn.setErr(ErrPunted) // before the server closes the socket
		go c.shutdown(conn, ErrPunted, EndedByPunt)
	case verto.MethodPing:
		c.emit(EventPing, "", "", m.Params)
	case verto.MethodEvent:
		c.handleEvent(m)
	default:
		var p verto.ServerCallParams
		if err := m.DecodeParams(&p); err != nil {
			c.log.Warn("verto: bad params", "method", m.Method, "err", err)
		}
		if p.CallID == "" {
			if m.Method == verto.MethodInfo {
				text := ""
				if p.Msg != nil {
					text = p.Msg.From + ": " + p.Msg.Body
				}
				c.emit(EventInfo, "", text, m.Params)
			} else {
				c.log.Debug("verto: ignored", "method", m.Method)
			}
			return
		}
		if !m.ID.IsZero() {
			conn.ack(m)
		}
		c.handleCall(conn, m, &p)
	}
}

func (c *Client) handleCall(conn *wsConn, m *verto.Message, p *verto.ServerCallParams) {
	c.mu.Lock()
	call := c.calls[p.CallID]
	c.mu.Unlock()
	switch {
	case m.Method == verto.MethodInvite && call == nil:
		c.newIncoming(p, m.Params)
	case m.Method == verto.MethodAttach && call != nil:
		c.goBG(func() { call.reattach(conn, p, m.Params) })
	case m.Method == verto.MethodAttach:
		c.goBG(func() { c.recover(conn, p, m.Params) })
	case call == nil:
		c.log.Info("verto: message for an unknown call ignored", "method", m.Method, "call_id", p.CallID)
	default:
		call.handleServer(m.Method, p, m.Params)
	}
}

func (c *Client) newIncoming(p *verto.ServerCallParams, raw json.RawMessage) {
	call := c.newCall(DirectionInbound, p.CallID, p.CalleeIDNumber, CallOptions{})
	call.remoteOffer = p.SDP
	call.nodeUUID = p.NodeUUID
	call.remoteName, call.remoteNumber = p.CallerIDName, p.CallerIDNumber
	call.state = StateRinging
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	select {
	case c.incoming <- call:
		c.calls[call.id] = call
		c.mu.Unlock()
		c.emit(EventInvite, call.id, fmt.Sprintf("from %s <%s>", p.CallerIDName, p.CallerIDNumber), raw)
	default:
		c.mu.Unlock()
		c.log.Warn("incoming call refused: Incoming is full", "call_id", call.id)
		c.goBG(func() {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
			defer cancel()
			_, _ = c.request(ctx, verto.MethodBye, call.params("", func(cp *callParams) {
				cp.Cause, cp.CauseCode = verto.CauseUserBusy.String(), verto.Flex(fmt.Sprint(int(verto.CauseUserBusy)))
			}), 0)
		})
	}
}

// recover answers verto.attach for a call this client does not know (a new
// process with an old sessid), as verto.js does after a page reload. The
// call is delivered on Incoming, already up.
func (c *Client) recover(conn *wsConn, p *verto.ServerCallParams, raw json.RawMessage) {
	call := c.newCall(DirectionInbound, p.CallID, p.CalleeIDNumber, CallOptions{})
	call.nodeUUID = p.NodeUUID
	call.remoteName, call.remoteNumber = p.CallerIDName, p.CallerIDNumber
	call.recovered = true
	if !c.addCall(call) {
		return
	}
	call.reattach(conn, p, raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		select {
		case c.incoming <- call:
		default:
		}
	}
}

func (c *Client) addCall(call *Call) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.calls[call.id] = call
	return true
}

func (c *Client) removeCall(call *Call) {
	c.mu.Lock()
	if c.calls[call.id] == call {
		delete(c.calls, call.id)
	}
	c.mu.Unlock()
}

// watch follows the current socket: when it closes unexpectedly the
// client reconnects (Options.Reconnect) or ends.
func (c *Client) watch(conn *wsConn) {
	<-conn.done
	c.mu.Lock()
	mine := c.conn == conn && !c.closed
	c.mu.Unlock()
	if !mine {
		return
	}
	err := conn.closeErr()
	if errors.Is(err, ErrPunted) {
		c.shutdown(conn, err, EndedByPunt)
		return
	}
	c.emit(EventSocketClosed, "", err.Error(), nil)
	if c.opts.Reconnect && c.goBG(func() { c.reconnect(conn, err) }) {
		return
	}
	c.shutdown(conn, err, EndedBySocket)
}

// reconnect takes the client back after its socket was lost, as verto.js
// does (see Options.Reconnect). It runs as background work of the client.
func (c *Client) reconnect(old *wsConn, cause error) {
	c.mu.Lock()
	if c.closed || c.conn != old {
		c.mu.Unlock()
		return
	}
	c.conn = nil
	c.connCh = make(chan struct{})
	c.away = true
	calls := c.callList()
	from := c.url
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.away = false
		c.mu.Unlock()
	}()
	detached := c.detachAll(calls, false, attachReconnect, EndedBySocket)

	urls := c.urlsFrom(from)
	deadline := time.Now().Add(c.opts.ReconnectTimeout)
	delay := c.opts.ReconnectDelay
	var conn *wsConn
	for attempt := 0; conn == nil; {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
		// one round: every address in turn, the one lost first
		for _, url := range urls {
			attempt++
			c.emit(EventReconnecting, "", fmt.Sprintf("attempt %d: %s", attempt, url), nil)
			ctx, cancel := context.WithTimeout(c.ctx, 2*c.opts.RequestTimeout)
			got, err := c.connect(ctx, url)
			cancel()
			if c.ctx.Err() != nil {
				return
			}
			if got != nil { // logged in (verto.clientReady may not have come)
				conn = got
				break
			}
			c.log.Info("reconnect failed", "url", url, "err", err)
			var le *LoginError
			if errors.As(err, &le) || time.Now().After(deadline) {
				go c.shutdown(nil, fmt.Errorf("client: reconnect gave up: %w; socket lost: %w", err, cause), EndedBySocket)
				return
			}
		}
		delay = min(2*delay, c.opts.ReconnectMaxDelay)
	}
	c.mu.Lock()
	c.reconnects++
	c.mu.Unlock()
	n, _ := c.awaitReattach(c.ctx, conn, detached, EndedBySocket)
	c.emit(EventReconnected, "", fmt.Sprintf("%d of %d calls re-attached", n, len(detached)), nil)
}

// urlsFrom returns the client's addresses, starting with from.
func (c *Client) urlsFrom(from string) []string {
	all := append([]string{c.opts.URL}, c.opts.URLs...)
	for i, u := range all {
		if u == from {
			return append(all[i:], all[:i]...)
		}
	}
	return append([]string{from}, all...)
}

// detachAll prepares calls for a new socket: answered ones wait for
// verto.attach (their media dropped when closeMedia), the others end, as
// the server hangs them up.
func (c *Client) detachAll(calls []*Call, closeMedia bool, reason, endedBy string) []*Call {
	var detached []*Call
	for _, call := range calls {
		if call.detach(closeMedia, reason) {
			detached = append(detached, call)
		} else {
			call.end(endedBy, verto.CauseDestinationOutOfOrder.String(), int(verto.CauseDestinationOutOfOrder),
				errors.New("not answered when the socket went away"))
		}
	}
	return detached
}

// awaitReattach waits, after a new login on conn, until the detached calls
// are re-attached: every call verto.clientReady lists (or all of them when
// it did not come in time); the others end, with endedBy. It returns how
// many were re-attached.
func (c *Client) awaitReattach(ctx context.Context, conn *wsConn, detached []*Call, endedBy string) (int, error) {
	listed := make(map[string]bool)
	readyCame := false
	select {
	case <-conn.ready:
		readyCame = true
		for _, id := range c.Reattached() {
			listed[id] = true
		}
	default:
	}
	var failed error
	n := 0
	for _, call := range detached {
		if readyCame && !listed[call.id] && !call.isAttached() {
			err := fmt.Errorf("call %s not re-attached: not in verto.clientReady", call.id)
			call.end(endedBy, "", 0, err)
			failed = errors.Join(failed, err)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout+c.opts.RequestTimeout)
		err := call.waitAttached(wctx)
		cancel()
		if err != nil {
			call.end(endedBy, "", 0, fmt.Errorf("not re-attached: %w", err))
			failed = errors.Join(failed, err)
			continue
		}
		n++
	}
	return n, failed
}

// shutdown ends the client without saying goodbye: punt or lost socket.
func (c *Client) shutdown(conn *wsConn, err error, endedBy string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cancel()
	c.err = err
	calls := c.callList()
	c.mu.Unlock()
	for _, call := range calls {
		call.end(endedBy, "", 0, err)
	}
	if conn != nil {
		conn.close(err)
	}
	c.finish(calls)
}

func (c *Client) callList() []*Call {
	calls := make([]*Call, 0, len(c.calls))
	for _, call := range c.calls {
		calls = append(calls, call)
	}
	return calls
}

// finish waits for the calls and background work, then marks the client
// done. c.closed is set.
func (c *Client) finish(calls []*Call) {
	for _, call := range calls {
		<-call.Done()
	}
	c.bg.Wait()
	c.mu.Lock()
	close(c.incoming)
	close(c.done)
	c.mu.Unlock()
}

// Close logs out as verto.js does: it hangs up every call (verto.bye), then
// closes the socket. It waits until every call and goroutine of the client
// has finished.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	calls := c.callList()
	away := c.away
	c.mu.Unlock()
	if away { // no socket to say goodbye on: stop reconnecting
		calls = nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RequestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if call.Direction() == DirectionInbound && !call.isAnswered() {
				_ = call.Reject(ctx, verto.CauseNormalClearing)
				return
			}
			_ = call.Hangup(ctx)
		}()
	}
	wg.Wait()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.closed = true
	c.cancel()
	conn := c.conn
	calls = c.callList()
	connCh := c.connCh
	if c.conn == nil {
		close(connCh) // wake requests waiting for a reload that will not come
	}
	c.mu.Unlock()
	for _, call := range calls {
		call.end(EndedByClose, "", 0, nil)
	}
	if conn != nil {
		conn.close(ErrClosed)
	}
	c.finish(calls)
	return nil
}

// Reload drops the socket without a goodbye, as a browser page reload does,
// connects to url (the current one when empty) with the same sessid, logs
// in and takes back the calls the server re-offers with verto.attach, each
// on a new peer connection. Calls that were not answered are lost (the
// server hangs them up); answered calls not re-attached by the time
// verto.clientReady comes (or ReadyTimeout passes) end with EndedByReload.
func (c *Client) Reload(ctx context.Context, url string) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	old := c.conn
	if url == "" {
		url = c.url
	}
	if old != nil {
		c.conn = nil
		c.connCh = make(chan struct{})
	}
	calls := c.callList()
	c.mu.Unlock()

	c.emit(EventReloading, "", "to "+url, nil)
	detached := c.detachAll(calls, true, attachReload, EndedByReload)
	if old != nil {
		old.abort(errors.New("reload"))
	}
	conn, err := c.connect(ctx, url)
	if err != nil {
		return fmt.Errorf("client: reload: %w", err)
	}
	n, failed := c.awaitReattach(ctx, conn, detached, EndedByReload)
	c.mu.Lock()
	c.reloads++
	c.mu.Unlock()
	c.emit(EventReloaded, "", fmt.Sprintf("%d of %d calls re-attached", n, len(detached)), nil)
	return failed
}
