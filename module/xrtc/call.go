package xrtc

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"xccrtc/verto"
)

// Direction says who placed a call.
type Direction int

// Directions, as FreeSWITCH names them from the switch's side.
const (
	Inbound  Direction = iota // a client called out (verto.invite from the client)
	Outbound                  // the switch called a WebRTC user
)

func (d Direction) String() string {
	if d == Outbound {
		return "outbound"
	}
	return "inbound"
}

// Call is one xrtc call. Its handlers run on its own serial queue; its
// fields are read by `xrtc calls` under mu.
type Call struct {
	id      string
	dir     Direction
	profile *Profile
	created time.Time
	q       serial

	mu           sync.Mutex
	ch           Channel
	state        State
	held         bool
	sessid       string
	ctrlUUID     string
	user         *verto.User
	dest         string
	caller       CallerProfile
	sentMedia    bool
	quiet        bool // the client ended the call or its socket is gone: no verto.bye
	noRecover    bool
	attachWanted bool // verto.attach offered, waiting for the client's answer
	cause        verto.Cause
	route        *verto.Route
	init         *outboundInit // a call to a user waiting for ChannelInit (OfferOnInit)
	rec          *recovery     // a call the switch recovered, until its client answers (recovery.go)
	ringCtrls    []string
	answeredAt   time.Time
	ringTimer    Timer
	detachTimer  Timer
	watch        mediaWatch
	// userVars are the dialogParams.userVariables the call set as channel
	// variables (verto_dvar_*), each name with the bytes of its name and
	// value: at most verto.MaxUserVariables of them, holding at most
	// verto.MaxUserVariablesBytes (takeUserVars).
	userVars map[string]int
}

// takeUserVars counts the userVariables of a client's invite or verto.info
// against the call's verto.MaxUserVariables and verto.MaxUserVariablesBytes
// (a name set again counts once, with its new value), and those of the
// login (an invite's xrtc_user) against the count: each becomes a channel
// variable, which FreeSWITCH sets in time that grows with those the channel
// has and copies into each of the channel's events, so a client sending
// thousands, or a frame's size of each, message after message, took the
// switch's CPU and memory. Past a bound nothing is recorded and the message
// is to be refused.
func (c *Call) takeUserVars(p *verto.CallParams) error {
	var vars map[string]any
	if p.DialogParams != nil {
		vars = p.DialogParams.UserVariables
	}
	if u := p.XrtcUser; u != nil {
		if err := verto.CheckUserVariables(len(u.UserVariables)); err != nil {
			return err
		}
	}
	sizes := make(map[string]int, len(vars))
	for k, v := range vars {
		sizes[k] = len(k) + len(anyString(v))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, total := len(c.userVars), 0
	for _, size := range c.userVars {
		total += size
	}
	for k, size := range sizes {
		old, ok := c.userVars[k]
		if !ok {
			n++
		}
		total += size - old
	}
	if err := verto.CheckUserVariables(n); err != nil {
		return err
	}
	if err := verto.CheckUserVariablesBytes(total); err != nil {
		return err
	}
	if len(sizes) > 0 && c.userVars == nil {
		c.userVars = make(map[string]int, len(sizes))
	}
	maps.Copy(c.userVars, sizes)
	return nil
}

// CallInfo is a snapshot of a call for operators and tests.
type CallInfo struct {
	UUID        string    `json:"uuid"`
	Direction   string    `json:"direction"`
	State       string    `json:"state"`
	Held        bool      `json:"held,omitempty"`
	Profile     string    `json:"profile"`
	Sessid      string    `json:"sessid,omitempty"`
	CtrlUUID    string    `json:"ctrl_uuid,omitempty"`
	Destination string    `json:"destination,omitempty"`
	Login       string    `json:"login,omitempty"`
	Created     time.Time `json:"created"`
	RTPIn       uint64    `json:"rtp_in"`
}

func (c *Call) info() CallInfo {
	c.mu.Lock()
	ci := CallInfo{
		UUID: c.id, Direction: c.dir.String(), State: c.state.String(), Held: c.held,
		Profile: c.profile.Name, Sessid: c.sessid, CtrlUUID: c.ctrlUUID, Destination: c.dest,
		Created: c.created,
	}
	if c.user != nil {
		ci.Login = c.user.Login
	}
	if c.route != nil {
		ci.Login = c.route.Login
	}
	ch := c.ch
	c.mu.Unlock()
	if ch != nil {
		ci.RTPIn = ch.MediaStats().RTPPacketsIn
	}
	return ci
}

// setState moves the call; c.mu must be held.
func (c *Call) setState(to State) error {
	if c.state == to {
		return nil
	}
	if !CanTransition(c.state, to) {
		return fmt.Errorf("%w: call %s %s -> %s", ErrBadTransition, c.id, c.state, to)
	}
	c.state = to
	return nil
}

// moveLocked moves the call to state to (c.mu held) and reports whether it
// moved. A refused move is a bug in the endpoint: it is logged and counted
// (xrtc status "bad transitions"), and the call stays where it was.
func (e *Endpoint) moveLocked(c *Call, to State) bool {
	err := c.setState(to)
	if err == nil {
		return true
	}
	e.stats.badTransitions.Add(1)
	e.log.Error("xrtc: state change refused", "call_id", c.id, "direction", c.dir.String(), "err", err)
	return false
}

func (c *Call) getState() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// callList is the calls in progress, in no order.
func (e *Endpoint) callList() []*Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Collect(maps.Values(e.calls))
}

// Calls returns a snapshot of the calls in progress, oldest first.
func (e *Endpoint) Calls() []CallInfo {
	cs := e.callList()
	out := make([]CallInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.info())
	}
	sortCallInfos(out)
	return out
}

// Call returns a snapshot of one call.
func (e *Endpoint) Call(uuid string) (CallInfo, bool) {
	c := e.lookup(uuid)
	if c == nil {
		return CallInfo{}, false
	}
	return c.info(), true
}

func (e *Endpoint) lookup(uuid string) *Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[uuid]
}

// register adds a new call; false when the UUID is taken or the endpoint
// stopped.
func (e *Endpoint) register(c *Call) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return false
	}
	if _, ok := e.calls[c.id]; ok {
		return false
	}
	e.calls[c.id] = c
	e.stats.callsTotal.Add(1)
	return true
}

func (e *Endpoint) unregister(c *Call) {
	e.mu.Lock()
	if e.calls[c.id] == c {
		delete(e.calls, c.id)
	}
	e.mu.Unlock()
}

// runCall queues f on the call's queue.
func (e *Endpoint) runCall(c *Call, what string, f func()) bool {
	return e.run(&c.q, what, f)
}

// endCall ends a call once: state hangup, timers stopped, the call
// forgotten, the channel hung up (hangupChannel: the endpoint decided it; not
// when the switch reported it), and the client told with verto.bye unless
// it ended the call itself or its socket is gone. Runs on the call's queue.
func (e *Endpoint) endCall(c *Call, cause verto.Cause, hangupChannel, notify bool) {
	c.mu.Lock()
	if c.state == StateHangup {
		c.mu.Unlock()
		return
	}
	// A call to a user that never got to its verto.invite has nobody to
	// tell.
	unsent := c.dir == Outbound && c.state == StateNew
	c.state = StateHangup
	c.cause = cause
	c.init = nil
	c.stopTimersLocked()
	ch, quiet := c.ch, c.quiet || unsent
	sessid := c.sessid
	c.mu.Unlock()
	e.unregister(c)
	if hangupChannel && ch != nil {
		ch.Hangup(cause)
	}
	if notify && !quiet {
		e.sendBye(c, cause)
	}
	e.log.Info("xrtc: call ended", "call_id", c.id, "direction", c.dir.String(), "cause", cause.String())
	if sessid != "" {
		e.ev.forgetIfIdle(e, sessid)
	}
}

func (c *Call) stopTimersLocked() {
	if c.ringTimer != nil {
		c.ringTimer.Stop()
		c.ringTimer = nil
	}
	if c.detachTimer != nil {
		c.detachTimer.Stop()
		c.detachTimer = nil
	}
	c.watch.stopLocked()
}

// sendBye tells the client side that the call is over: the owning socket,
// or, for a call to a user nobody answered yet, every XCtrl that rings it.
func (e *Endpoint) sendBye(c *Call, cause verto.Cause) {
	p := &verto.ServerCallParams{Cause: cause.String(), CauseCode: int(cause)}
	if err := e.toClient(c, verto.MethodBye, p); err != nil {
		e.log.Warn("xrtc: verto.bye not sent", "call_id", c.id, "err", err)
	}
}

// toClient sends a node->client call message to the call's owner: its
// socket's XCtrl (with sessid), or before a call to a user is answered, every
// XCtrl that rings it (without sessid).
func (e *Endpoint) toClient(c *Call, method string, p *verto.ServerCallParams) error {
	return e.toClientWith(c, method, p, nil)
}

// toClientWith is toClient with more top-level params than
// ServerCallParams has (verto.prompt's text, verto.display's verto_h_*
// headers ...); extra may be nil.
func (e *Endpoint) toClientWith(c *Call, method string, p *verto.ServerCallParams, extra map[string]any) error {
	c.mu.Lock()
	p.CallID = c.id
	p.NodeUUID = e.nodeUUID
	p.Sessid = c.sessid
	var subjects []string
	if c.ctrlUUID != "" {
		subjects = []string{e.subjects.Ctrl(c.ctrlUUID)}
	} else {
		for _, u := range c.ringCtrls {
			subjects = append(subjects, e.subjects.Ctrl(u))
		}
		if len(subjects) == 0 && c.route != nil {
			subjects = []string{c.route.Subject}
		}
	}
	c.mu.Unlock()
	if len(subjects) == 0 {
		return fmt.Errorf("xrtc: call %s has no client to tell", c.id)
	}
	var params any = p
	if len(extra) > 0 {
		raw, err := withFields(p, extra)
		if err != nil {
			return err
		}
		params = raw
	}
	var first error
	for _, s := range subjects {
		if err := e.publish(s, method, params, true); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
