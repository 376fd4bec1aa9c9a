// Package vertotest is a fake Verto server for tests of Verto clients: a
// WebSocket server that speaks like mod_verto (and, when given a node UUID,
// like XCtrl: verto.trying and node_uuid), with real pion peers on
// 127.0.0.1 as the far end of every call, echoing the audio and video it
// receives.
//
// The far end behaves like stock FreeSWITCH, not like a browser or pion:
// its SDPs have no a=mid and no BUNDLE, each media section has its own
// transport (ICE credentials, candidates, port), its a=ssrc names its own
// SSRC but the echo returns the client's packets as they came (the client's
// own SSRC, as FreeSWITCH's echo does), early media flows before the answer,
// a transfer changes the SSRC mid-call, and Reoffer re-offers the media of
// a live call with verto.attach (FreeSWITCH's media renegotiation).
//
// Destinations of calls placed to it:
//
//	busy        CALL CREATED, then verto.bye USER_BUSY
//	error       the invite fails: CALL ERROR, NO_ROUTE_DESTINATION
//	noanswer    CALL CREATED, never answered
//	early       verto.media (SDP), echo flowing, then verto.answer (no SDP)
//	transfer    answered, echo, and after 50 packets the echo comes from a
//	            new SSRC, sequence and timestamp (a transfer or bridge)
//	conf-NAME   answered, echo, and joined to conference NAME (liveArray)
//	anything    answered, echo
//
// Tests drive the server side with Invite, Bye, Punt, Ping, ForgetAuth,
// Reoffer, DropSocket, StopListener, AddMember and DelMember, and check
// what the client sent with WaitFor and WaitCall.
package vertotest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// Config configures a Server.
type Config struct {
	// Users are login (user@domain) -> password.
	Users map[string]string
	// XUISessids and XCCTokens are token -> login, checked before the
	// password when the login carries loginParams.xui_sessid / xcc_token.
	XUISessids map[string]string
	XCCTokens  map[string]string
	// NodeUUID makes the server behave like XCtrl: verto.trying after an
	// invite and node_uuid in results and call messages. Empty: plain
	// mod_verto.
	NodeUUID string
	// EarlyMedia makes every call of the early destination: the answer
	// SDP in verto.media, media flowing, then verto.answer without SDP.
	EarlyMedia bool
	// NoVideo refuses video sections (port 0), as a FreeSWITCH without
	// video codecs does.
	NoVideo bool
	// Codecs are the far end's codecs in preference order ("PCMU",
	// "opus"); default PCMU and opus.
	Codecs []string
	// EchoDropEvery drops every n-th echoed packet (simulated loss).
	EchoDropEvery int
	// Moderator gives conference members the moderator channel.
	Moderator bool
	// Domain of conference channels (default example.com).
	Domain string
}

// Server is a running fake Verto server.
type Server struct {
	cfg Config
	tb  testing.TB

	mu       sync.Mutex
	https    []*httptest.Server
	stopped  map[string]bool // listeners closed by StopListener
	socks    map[*sock]bool
	bySessid map[string]*sock
	calls    map[string]*Call   // live calls, by callID
	all      map[string]*Call   // every call, for CallInfo
	detached map[string][]*Call // sessid -> answered calls waiting for re-attach
	confs    map[string]*conf
	log      []Received
	changed  chan struct{}
	closed   bool
	wg       sync.WaitGroup
	bg       sync.WaitGroup // answers of early media calls
	quit     chan struct{}  // closed by Close
}

// Received is one message the server got from a client.
type Received struct {
	Sessid string
	Login  string
	Msg    *verto.Message
	// Params decoded as a generic object, for assertions.
	Params map[string]any
}

// Call is the server side of a call.
type Call struct {
	ID      string
	Sessid  string
	Login   string
	Dest    string
	Inbound bool // the server called the client

	mu       sync.Mutex
	peer     *echoPeer
	answered bool
	ended    bool
	cause    string
	dtmf     string
	held     bool
	attaches int
	video    bool
	conf     *conf
}

// CallInfo is a snapshot of a server call.
type CallInfo struct {
	ID, Sessid, Login, Dest string
	Inbound                 bool
	Answered, Ended, Held   bool
	Cause, DTMF             string
	Attaches                int
	// Packets the far end received from the client and echoed back.
	Received, Echoed uint64
	// The same for video.
	VideoReceived, VideoEchoed uint64
}

// New starts a server on 127.0.0.1; it is closed when the test ends.
func New(tb testing.TB, cfg Config) *Server {
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = []string{"PCMU", "opus"}
	}
	if cfg.Domain == "" {
		cfg.Domain = "example.com"
	}
	s := &Server{
		cfg: cfg, tb: tb,
		socks:    make(map[*sock]bool),
		bySessid: make(map[string]*sock),
		calls:    make(map[string]*Call),
		all:      make(map[string]*Call),
		detached: make(map[string][]*Call),
		stopped:  make(map[string]bool),
		confs:    make(map[string]*conf),
		changed:  make(chan struct{}),
		quit:     make(chan struct{}),
	}
	s.AddListener()
	tb.Cleanup(s.Close)
	return s
}

// URL returns the ws:// address of the first listener.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "ws" + strings.TrimPrefix(s.https[0].URL, "http")
}

// AddListener opens another listener sharing all state (another XCtrl
// instance in front of the same nodes) and returns its ws:// address.
func (s *Server) AddListener() string {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	var url string
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.serve(ws, url)
	}))
	url = "ws" + strings.TrimPrefix("http://"+hs.Listener.Addr().String(), "http")
	hs.Start()
	s.mu.Lock()
	s.https = append(s.https, hs)
	s.mu.Unlock()
	return url
}

// StopListener closes the listener of url and drops its sockets without a
// close frame, as an XCtrl instance that dies.
func (s *Server) StopListener(url string) {
	s.mu.Lock()
	var hs *httptest.Server
	for _, h := range s.https {
		if "ws"+strings.TrimPrefix(h.URL, "http") == url && !s.stopped[url] {
			hs = h
		}
	}
	s.stopped[url] = true
	var socks []*sock
	for k := range s.socks {
		if k.url == url {
			socks = append(socks, k)
		}
	}
	s.mu.Unlock()
	if hs != nil {
		hs.Listener.Close()
	}
	for _, k := range socks {
		_ = k.ws.NetConn().Close()
	}
}

// DropSocket closes the socket of sessid without a close frame, as a
// network failure does.
func (s *Server) DropSocket(sessid string) error {
	s.mu.Lock()
	k := s.bySessid[sessid]
	s.mu.Unlock()
	if k == nil {
		return errors.New(verto.MsgSessionNotFound)
	}
	return k.ws.NetConn().Close()
}

// Close stops the server: sockets, peers and listeners.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.quit)
	var socks []*sock
	for k := range s.socks {
		socks = append(socks, k)
	}
	var calls []*Call
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	for _, cs := range s.detached {
		calls = append(calls, cs...)
	}
	hss := s.https
	s.mu.Unlock()
	for _, k := range socks {
		_ = k.ws.Close()
	}
	for _, hs := range hss {
		hs.CloseClientConnections()
		hs.Close()
	}
	s.bg.Wait()
	s.wg.Wait()
	for _, c := range calls {
		c.closePeer()
	}
}

type sock struct {
	s      *Server
	ws     *websocket.Conn
	url    string // the listener it came in on
	wmu    sync.Mutex
	nextID atomic.Int64

	// guarded by s.mu
	authed bool
	sessid string
	login  string
	subs   map[string]bool
}

func (s *Server) serve(ws *websocket.Conn, url string) {
	k := &sock{s: s, ws: ws, url: url, subs: make(map[string]bool)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.socks[k] = true
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.dropSock(k)
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		f, err := verto.Decode(data, verto.Limits{MaxBytes: 4 << 20})
		if err != nil {
			var de *verto.DecodeError
			if errors.As(err, &de) {
				k.send(verto.NewError(de.ID, de.RPC()))
			}
			continue
		}
		for _, m := range f.Msgs {
			s.record(k, m)
			if m.Kind() == verto.KindRequest {
				s.handle(k, m)
			}
		}
	}
}

func (s *Server) record(k *sock, m *verto.Message) {
	var p map[string]any
	_ = json.Unmarshal(m.Params, &p)
	s.mu.Lock()
	s.log = append(s.log, Received{Sessid: k.sessid, Login: k.login, Msg: m, Params: p})
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// send writes a message to the socket.
func (k *sock) send(m *verto.Message) {
	b, err := m.Marshal()
	if err != nil {
		return
	}
	k.wmu.Lock()
	defer k.wmu.Unlock()
	_ = k.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = k.ws.WriteMessage(websocket.TextMessage, b)
}

// request sends a server request with the socket's next id.
func (k *sock) request(method string, params any) {
	m, err := verto.NewRequest(verto.IntID(k.nextID.Add(1)), method, params)
	if err == nil {
		k.send(m)
	}
}

func (k *sock) result(id verto.ID, r any) {
	m, err := verto.NewResult(id, r)
	if err == nil {
		k.send(m)
	}
}

func (k *sock) error(id verto.ID, e *verto.Error) { k.send(verto.NewError(id, e)) }

// dropSock forgets a closed socket: unanswered calls end, answered ones
// wait for a re-attach (mod_verto's detach).
func (s *Server) dropSock(k *sock) {
	_ = k.ws.Close()
	s.mu.Lock()
	delete(s.socks, k)
	owner := k.sessid != "" && s.bySessid[k.sessid] == k
	if owner {
		delete(s.bySessid, k.sessid)
	}
	var end, detach []*Call
	if owner {
		end, detach = s.detachLocked(k.sessid)
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.stopMedia(end, detach)
}

// detachLocked takes the calls of sessid off their socket: the unanswered
// ones to end, the answered ones waiting for a re-attach (mod_verto's
// detach_calls). s.mu is held.
func (s *Server) detachLocked(sessid string) (end, detach []*Call) {
	for _, c := range s.calls {
		if c.Sessid != sessid {
			continue
		}
		c.mu.Lock()
		if c.answered {
			detach = append(detach, c)
		} else {
			end = append(end, c)
		}
		c.mu.Unlock()
	}
	for _, c := range append(end, detach...) {
		delete(s.calls, c.ID)
	}
	s.detached[sessid] = append(s.detached[sessid], detach...)
	return end, detach
}

// stopMedia ends calls and stops the media of detached ones.
func (s *Server) stopMedia(end, detach []*Call) {
	for _, c := range end {
		c.finish(verto.CauseDestinationOutOfOrder.String())
	}
	for _, c := range detach {
		c.closePeer()
	}
}

func (s *Server) handle(k *sock, m *verto.Message) {
	s.mu.Lock()
	authed := k.authed
	s.mu.Unlock()
	if m.Method != verto.MethodLogin && !authed {
		k.error(m.ID, verto.ErrAuthRequired)
		return
	}
	switch m.Method {
	case verto.MethodLogin:
		s.login(k, m)
	case verto.MethodInvite:
		s.invite(k, m)
	case verto.MethodAnswer, verto.MethodAttach:
		s.answer(k, m)
	case verto.MethodBye:
		s.bye(k, m)
	case verto.MethodModify:
		s.modify(k, m)
	case verto.MethodInfo:
		s.info(k, m)
	case verto.MethodSubscribe:
		s.subscribe(k, m)
	case verto.MethodBroadcast:
		s.broadcast(k, m)
	case verto.MethodPing:
		k.result(m.ID, verto.MessageResult{Message: "PONG", Sessid: k.sessid})
	case verto.MethodEcho:
		k.result(m.ID, m.Params)
	default:
		k.error(m.ID, verto.ErrMethodNotFound)
	}
}

func (s *Server) login(k *sock, m *verto.Message) {
	var p verto.LoginParams
	if err := m.DecodeParams(&p); err != nil || p.Login == "" {
		k.error(m.ID, verto.ErrAuthRequired)
		return
	}
	ok := false
	switch {
	case p.LoginParam("xcc_token") != "":
		ok = s.cfg.XCCTokens[p.LoginParam("xcc_token")] == p.Login
	case p.LoginParam("xui_sessid") != "":
		ok = s.cfg.XUISessids[p.LoginParam("xui_sessid")] == p.Login
	default:
		pw, known := s.cfg.Users[p.Login]
		ok = known && pw == p.Passwd
	}
	if !ok || p.Sessid == "" {
		k.error(m.ID, &verto.Error{Code: verto.CodeAuthFailed, Message: verto.MsgLoginIncorrect})
		return
	}
	s.mu.Lock()
	old := s.bySessid[p.Sessid]
	if old != nil && old != k && old.login != p.Login {
		s.mu.Unlock()
		k.error(m.ID, &verto.Error{Code: verto.CodeAuthFailed, Message: verto.MsgSessionInUse})
		return
	}
	k.authed, k.sessid, k.login = true, p.Sessid, p.Login
	s.bySessid[p.Sessid] = k
	s.notifyLocked()
	// the old socket of this sessid is still there (its close is not seen
	// yet): its calls are detached now and re-attached here, as mod_verto's
	// attach_jsock does
	var end, detach []*Call
	if old != nil && old != k {
		old.sessid = ""
		end, detach = s.detachLocked(p.Sessid)
	}
	reattach := s.detached[p.Sessid]
	delete(s.detached, p.Sessid)
	s.mu.Unlock()
	s.stopMedia(end, detach)
	if old != nil && old != k {
		old.request(verto.MethodPunt, struct{}{})
		_ = old.ws.Close()
	}
	k.result(m.ID, verto.LoginResult{Message: "logged in", Sessid: p.Sessid})

	ids := []string{}
	for _, c := range reattach {
		if err := s.reattach(k, c); err != nil {
			s.tb.Logf("vertotest: re-attach %s: %v", c.ID, err)
			c.finish(verto.CauseRecoveryOnTimerExpire.String())
			continue
		}
		ids = append(ids, c.ID)
	}
	k.request(verto.MethodClientReady, verto.ClientReadyParams{ReattachedSessions: ids})
}

// reattach re-offers a detached call with a fresh far end (verto.attach).
func (s *Server) reattach(k *sock, c *Call) error {
	c.mu.Lock()
	video := c.video
	c.mu.Unlock()
	peer, err := newEchoPeer(s.peerConfig(c.Dest))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sdp, err := peer.offer(ctx, video)
	if err != nil {
		peer.close()
		return err
	}
	c.mu.Lock()
	old := c.peer
	c.peer = peer
	c.mu.Unlock()
	if old != nil {
		old.close()
	}
	s.mu.Lock()
	s.calls[c.ID] = c
	s.mu.Unlock()
	k.request(verto.MethodAttach, verto.ServerCallParams{
		CallID: c.ID, SDP: sdp, CallerIDName: "Far End", CallerIDNumber: "far",
		CalleeIDName: c.Login, CalleeIDNumber: c.Dest, DisplayDirection: "outbound", NodeUUID: s.cfg.NodeUUID,
	})
	return nil
}

// Reoffer re-offers the media of a live call on its socket with
// verto.attach and a fresh far end, as FreeSWITCH does on a media
// renegotiation (a re-INVITE from the other leg); the client answers with
// verto.attach.
func (s *Server) Reoffer(callID string) error {
	s.mu.Lock()
	c := s.calls[callID]
	var k *sock
	if c != nil {
		k = s.bySessid[c.Sessid]
	}
	s.mu.Unlock()
	if c == nil || k == nil {
		return errors.New(verto.MsgCallNotExist)
	}
	return s.reattach(k, c)
}

// peerConfig is the far end of a call to dest.
func (s *Server) peerConfig(dest string) peerConfig {
	pc := peerConfig{codecs: s.cfg.Codecs, noVideo: s.cfg.NoVideo, dropEvery: s.cfg.EchoDropEvery}
	if dest == "transfer" {
		pc.transferAfter = 50
	}
	return pc
}

func (s *Server) invite(k *sock, m *verto.Message) {
	var p verto.CallParams
	_ = m.DecodeParams(&p)
	callID := p.CallID()
	switch {
	case callID == "":
		k.error(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgCallIDMissing})
		return
	case p.SDP == "":
		k.error(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgSDPMissing})
		return
	}
	dest := p.DialogParams.DestinationNumber
	if s.cfg.NodeUUID != "" {
		k.request(verto.MethodTrying, verto.TryingParams{CallID: callID, NodeUUID: s.cfg.NodeUUID})
	}
	if dest == "error" {
		k.error(m.ID, (&verto.Error{Code: verto.CodeSessionError, Message: verto.MsgCallError}).
			With("cause", verto.CauseNoRouteDestination.String()).With("causeCode", int(verto.CauseNoRouteDestination)))
		return
	}
	s.mu.Lock()
	c := &Call{ID: callID, Sessid: k.sessid, Login: k.login, Dest: dest}
	s.calls[callID] = c
	s.all[callID] = c
	s.mu.Unlock()
	created := verto.InviteResult{Message: "CALL CREATED", CallID: callID, NodeUUID: s.cfg.NodeUUID, Sessid: k.sessid}
	switch dest {
	case "busy":
		k.result(m.ID, created)
		s.hangup(c, verto.CauseUserBusy)
		return
	case "noanswer":
		k.result(m.ID, created)
		return
	}
	peer, err := newEchoPeer(s.peerConfig(dest))
	if err == nil {
		c.mu.Lock()
		c.peer = peer
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var sdp string
		sdp, err = peer.answer(ctx, p.SDP)
		cancel()
		if err == nil {
			c.mu.Lock()
			c.video = peer.hasVideo()
			c.mu.Unlock()
			k.result(m.ID, created)
			if s.cfg.EarlyMedia || dest == "early" {
				// FreeSWITCH's progress: the answer SDP in verto.media,
				// media flowing, verto.answer (without SDP) later
				k.request(verto.MethodMedia, verto.ServerCallParams{CallID: callID, SDP: sdp, NodeUUID: s.cfg.NodeUUID})
				s.bg.Add(1)
				go func() {
					defer s.bg.Done()
					t := time.NewTimer(10 * time.Second)
					defer t.Stop()
					select {
					case <-peer.flowing:
					case <-t.C:
					case <-s.quit:
						return
					}
					s.answered(k, c, "")
				}()
				return
			}
			s.answered(k, c, sdp)
			return
		}
	}
	s.mu.Lock()
	delete(s.calls, callID)
	s.mu.Unlock()
	c.closePeer()
	k.error(m.ID, (&verto.Error{Code: verto.CodeSessionError, Message: verto.MsgCallError}).
		With("cause", verto.CauseIncompatibleDestination.String()).With("causeCode", int(verto.CauseIncompatibleDestination)))
}

// answered sends verto.answer for a call the client placed (sdp empty after
// early media) and joins conferences.
func (s *Server) answered(k *sock, c *Call, sdp string) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.answered = true
	c.mu.Unlock()
	k.request(verto.MethodAnswer, verto.ServerCallParams{CallID: c.ID, SDP: sdp, NodeUUID: s.cfg.NodeUUID})
	s.notify()
	if name, ok := strings.CutPrefix(c.Dest, "conf-"); ok {
		s.join(k, c, name)
	}
}

// answer takes verto.answer (to the server's invite) and verto.attach (to
// its re-attach offer).
func (s *Server) answer(k *sock, m *verto.Message) {
	var p verto.CallParams
	_ = m.DecodeParams(&p)
	c := s.call(p.CallID())
	if c == nil {
		k.error(m.ID, verto.ErrCallNotExist.With("callID", p.CallID()))
		return
	}
	c.mu.Lock()
	peer := c.peer
	c.mu.Unlock()
	if peer == nil || p.SDP == "" {
		k.error(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: "MEDIA ERROR"})
		return
	}
	if err := peer.setAnswer(p.SDP); err != nil {
		k.error(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: "CODEC ERROR"})
		return
	}
	c.mu.Lock()
	c.answered = true
	if m.Method == verto.MethodAttach {
		c.attaches++
	}
	c.mu.Unlock()
	k.result(m.ID, struct {
		Sessid   string `json:"sessid"`
		NodeUUID string `json:"node_uuid,omitempty"`
	}{k.sessid, s.cfg.NodeUUID})
	s.notify()
}

func (s *Server) bye(k *sock, m *verto.Message) {
	var p verto.CallParams
	_ = m.DecodeParams(&p)
	c := s.call(p.CallID())
	if c == nil {
		k.error(m.ID, verto.ErrCallNotExist.With("callID", p.CallID()))
		return
	}
	cause := verto.CauseNormalClearing
	if p.Cause != "" {
		if x, ok := verto.ParseCause(p.Cause); ok {
			cause = x
		}
	}
	s.mu.Lock()
	delete(s.calls, c.ID)
	s.mu.Unlock()
	c.finish(cause.String())
	s.leave(c)
	k.result(m.ID, verto.ByeResult{CallID: c.ID, Message: "CALL ENDED", Cause: cause.String(), CauseCode: int(cause), Sessid: k.sessid})
	s.notify()
}

func (s *Server) modify(k *sock, m *verto.Message) {
	var p verto.CallParams
	_ = m.DecodeParams(&p)
	c := s.call(p.CallID())
	if c == nil {
		k.error(m.ID, verto.ErrCallNotExist.With("callID", p.CallID()))
		return
	}
	c.mu.Lock()
	switch p.Action {
	case verto.ActionHold:
		c.held = true
	case verto.ActionUnhold:
		c.held = false
	case verto.ActionToggleHold:
		c.held = !c.held
	case "":
		c.mu.Unlock()
		k.error(m.ID, &verto.Error{Code: verto.CodeSessionError, Message: "action missing"})
		return
	}
	state := verto.HoldStateActive
	if c.held {
		state = verto.HoldStateHeld
	}
	c.mu.Unlock()
	k.result(m.ID, verto.ModifyResult{CallID: c.ID, Action: p.Action, HoldState: state, Sessid: k.sessid})
	s.notify()
}

func (s *Server) info(k *sock, m *verto.Message) {
	var p verto.CallParams
	_ = m.DecodeParams(&p)
	if p.DTMF != "" {
		c := s.call(p.CallID())
		if c == nil {
			k.error(m.ID, verto.ErrCallNotExist.With("callID", p.CallID()))
			return
		}
		c.mu.Lock()
		c.dtmf += p.DTMF
		c.mu.Unlock()
		s.notify()
	}
	k.result(m.ID, verto.MessageResult{Message: "SENT", Sessid: k.sessid})
}

func (s *Server) call(id string) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *Server) notify() {
	s.mu.Lock()
	s.notifyLocked()
	s.mu.Unlock()
}

// hangup ends a call from the server side with verto.bye.
func (s *Server) hangup(c *Call, cause verto.Cause) {
	s.mu.Lock()
	delete(s.calls, c.ID)
	k := s.bySessid[c.Sessid]
	s.mu.Unlock()
	c.finish(cause.String())
	s.leave(c)
	if k != nil {
		k.request(verto.MethodBye, verto.ServerCallParams{CallID: c.ID, Cause: cause.String(), CauseCode: int(cause), NodeUUID: s.cfg.NodeUUID})
	}
	s.notify()
}

func (c *Call) finish(cause string) {
	c.mu.Lock()
	if !c.ended {
		c.ended = true
		c.cause = cause
	}
	c.mu.Unlock()
	c.closePeer()
}

func (c *Call) closePeer() {
	c.mu.Lock()
	p := c.peer
	c.peer = nil
	c.mu.Unlock()
	if p != nil {
		p.close()
	}
}

func (c *Call) info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	ci := CallInfo{
		ID: c.ID, Sessid: c.Sessid, Login: c.Login, Dest: c.Dest, Inbound: c.Inbound,
		Answered: c.answered, Ended: c.ended, Held: c.held, Cause: c.cause, DTMF: c.dtmf, Attaches: c.attaches,
	}
	if c.peer != nil {
		ci.Received, ci.Echoed = c.peer.received.Load(), c.peer.echoed.Load()
		ci.VideoReceived, ci.VideoEchoed = c.peer.videoReceived.Load(), c.peer.videoEchoed.Load()
	}
	return ci
}

// Test controls.

// InviteOptions describe a call the server places to a user.
type InviteOptions struct {
	CallerIDName, CallerIDNumber string
	// Video offers video too.
	Video bool
}

// Invite calls every socket of login (as a node's verto.invite through
// XCtrl), with a real offer, and returns the callID. The first socket that
// answers gets the call.
func (s *Server) Invite(ctx context.Context, login string, o InviteOptions) (string, error) {
	s.mu.Lock()
	var k *sock
	for x := range s.socks {
		if x.authed && x.login == login && s.bySessid[x.sessid] == x {
			k = x
			break
		}
	}
	s.mu.Unlock()
	if k == nil {
		return "", errors.New(verto.MsgNotRegistered)
	}
	peer, err := newEchoPeer(s.peerConfig(""))
	if err != nil {
		return "", err
	}
	sdp, err := peer.offer(ctx, o.Video)
	if err != nil {
		peer.close()
		return "", err
	}
	id := newID()
	c := &Call{ID: id, Sessid: k.sessid, Login: login, Inbound: true, peer: peer, video: o.Video}
	s.mu.Lock()
	s.calls[id] = c
	s.all[id] = c
	s.notifyLocked()
	s.mu.Unlock()
	user, _, _ := strings.Cut(login, "@")
	k.request(verto.MethodInvite, verto.ServerCallParams{
		CallID: id, SDP: sdp, CallerIDName: o.CallerIDName, CallerIDNumber: o.CallerIDNumber,
		CalleeIDName: user, CalleeIDNumber: user, DisplayDirection: "outbound",
		NodeUUID: s.cfg.NodeUUID, Login: login,
	})
	return id, nil
}

// Bye hangs a call up from the server side.
func (s *Server) Bye(callID string, cause verto.Cause) error {
	c := s.call(callID)
	if c == nil {
		return errors.New(verto.MsgCallNotExist)
	}
	s.hangup(c, cause)
	return nil
}

// Punt sends verto.punt to the socket of sessid and closes it.
func (s *Server) Punt(sessid string) error {
	s.mu.Lock()
	k := s.bySessid[sessid]
	s.mu.Unlock()
	if k == nil {
		return errors.New(verto.MsgSessionNotFound)
	}
	k.request(verto.MethodPunt, struct{}{})
	return nil
}

// Ping sends verto.ping to the socket of sessid.
func (s *Server) Ping(sessid string) error {
	s.mu.Lock()
	k := s.bySessid[sessid]
	s.mu.Unlock()
	if k == nil {
		return errors.New(verto.MsgSessionNotFound)
	}
	k.request(verto.MethodPing, verto.PingParams{Serno: time.Now().Unix()})
	return nil
}

// ForgetAuth makes the socket of sessid unauthenticated: its next request
// gets -32000, as after a server-side session expiry.
func (s *Server) ForgetAuth(sessid string) {
	s.mu.Lock()
	if k := s.bySessid[sessid]; k != nil {
		k.authed = false
	}
	s.mu.Unlock()
}

// Messages returns what clients sent, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.log...)
}

// WaitFor waits until a received message satisfies pred, and returns it.
func (s *Server) WaitFor(ctx context.Context, pred func(Received) bool) (Received, error) {
	for i := 0; ; {
		s.mu.Lock()
		log := s.log[i:]
		ch := s.changed
		s.mu.Unlock()
		for _, r := range log {
			if pred(r) {
				return r, nil
			}
		}
		i += len(log)
		select {
		case <-ch:
		case <-ctx.Done():
			return Received{}, ctx.Err()
		}
	}
}

// CallInfo returns the server's view of a call (also after it ended).
func (s *Server) CallInfo(id string) (CallInfo, bool) {
	s.mu.Lock()
	c := s.all[id]
	s.mu.Unlock()
	if c == nil {
		return CallInfo{}, false
	}
	return c.info(), true
}

// WaitCall waits until the server's view of call id satisfies pred. It is
// woken by signalling, not by media: to wait for packets, use the client's
// counters.
func (s *Server) WaitCall(ctx context.Context, id string, pred func(CallInfo) bool) (CallInfo, error) {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		ci, ok := s.CallInfo(id)
		if ok && pred(ci) {
			return ci, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ci, fmt.Errorf("vertotest: call %s: %w (last %+v)", id, ctx.Err(), ci)
		}
	}
}

// WaitLoggedIn waits until a socket is logged in as login and returns its
// sessid.
func (s *Server) WaitLoggedIn(ctx context.Context, login string) (string, error) {
	for {
		s.mu.Lock()
		for sessid, k := range s.bySessid {
			if k.authed && k.login == login {
				s.mu.Unlock()
				return sessid, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Sessids returns the sessids that have a live socket.
func (s *Server) Sessids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id := range s.bySessid {
		out = append(out, id)
	}
	return out
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
