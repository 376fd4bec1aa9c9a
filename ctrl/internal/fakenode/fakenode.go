// Package fakenode is a scripted xrtc node for XCtrl's tests and
// benchmarks: it speaks the bus contract of verto/README.md (status
// messages, relayed Verto requests, xrtc.login / xrtc.detach, calls to
// WebRTC users) without FreeSWITCH and without media.
package fakenode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/verto"
)

// Options configure a node.
type Options struct {
	URL         string // NATS URL
	UUID        string // "" picks one
	Name        string
	Prefix      string // subject prefix ("" is cn.xswitch)
	Sessions    int    // reported load
	SessionsMax int
	// UpdateEvery publishes Event.NodeUpdate periodically (0: only on
	// Register, CtrlStartUp and Update).
	UpdateEvery time.Duration
	// AutoAnswer publishes verto.answer right after CALL CREATED.
	AutoAnswer bool
	// Quiet keeps the node from recording what it receives (benchmarks).
	Quiet bool
	// Bare answers every request with the same result, unread, as a raw
	// NATS responder does (the relay benchmark's node, so that what it
	// measures beyond raw NATS and a raw WebSocket is XCtrl's own work).
	Bare bool
	// Refuse are channel families (the part before the first dot) the
	// node refuses to subscribe, as xrtc refuses FSevent channels while
	// enable-fs-events is off.
	Refuse []string
}

// Call is a call the node holds.
type Call struct {
	ID       string
	Sessid   string // the socket that placed or answered it
	Ctrl     string // the XCtrl of that socket
	Dest     string
	Login    string   // callee of a call to a user
	Ctrls    []string // XCtrl instances ringing a call to a user
	Inbound  bool     // the node called a user
	Answered bool
	Detached bool
}

// Received is one message the node got.
type Received struct {
	Subject string
	Method  string
	Params  json.RawMessage
}

// Param decodes one top-level param.
func (r Received) Param(k string, v any) bool {
	o, err := verto.ParseObject(r.Params)
	return err == nil && o.Get(k, v)
}

// Node is a running fake node.
type Node struct {
	opts Options
	nc   *nats.Conn
	subj verto.Subjects
	subs []*nats.Subscription
	stop chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	calls    map[string]*Call
	channels map[string]map[subscriber]bool // event channel -> subscribers
	granted  map[string]map[string]bool     // sessid -> conference channels it may subscribe
	log      []Received
	changed  chan struct{}
	sessions int
	shutdown bool // set by Update: every status says it
	closed   bool
}

type subscriber struct{ sessid, ctrl string }

// Start connects, subscribes and publishes Event.NodeRegister.
func Start(ctx context.Context, o Options) (*Node, error) {
	if o.UUID == "" {
		o.UUID = fmt.Sprintf("node-%d", time.Now().UnixNano())
	}
	if o.Name == "" {
		o.Name = o.UUID
	}
	nc, err := nats.Connect(o.URL, nats.Name("fakenode "+o.UUID), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	n := &Node{opts: o, nc: nc, subj: verto.Subjects{Prefix: o.Prefix}, stop: make(chan struct{}),
		calls: map[string]*Call{}, channels: map[string]map[subscriber]bool{}, granted: map[string]map[string]bool{},
		changed: make(chan struct{}), sessions: o.Sessions}
	for _, s := range []struct{ subject, queue string }{{n.subj.Node(o.UUID), ""}, {n.subj.AnyNode(), verto.NodeQueue}} {
		var sub *nats.Subscription
		if s.queue == "" {
			sub, err = nc.Subscribe(s.subject, n.onMsg)
		} else {
			sub, err = nc.QueueSubscribe(s.subject, s.queue, n.onMsg)
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
		n.subs = append(n.subs, sub)
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	n.status(verto.MethodNodeRegister)
	if o.UpdateEvery > 0 {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			t := time.NewTicker(o.UpdateEvery)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					n.status(verto.MethodNodeUpdate)
				case <-n.stop:
					return
				}
			}
		}()
	}
	return n, nc.FlushWithContext(ctx)
}

// UUID is the node's uuid.
func (n *Node) UUID() string { return n.opts.UUID }

// Update reports a new load (and shutdown flag) with Event.NodeUpdate.
func (n *Node) Update(sessions int, shutdown bool) {
	n.mu.Lock()
	n.sessions, n.shutdown = sessions, shutdown
	n.mu.Unlock()
	n.status(verto.MethodNodeUpdate)
}

// status publishes the node's status; a node shutting down says so in
// every status after, as a real one does (an XCtrl that starts late gets
// the register of a node shutting down).
func (n *Node) status(method string) {
	n.mu.Lock()
	node := verto.Node{UUID: n.opts.UUID, Name: n.opts.Name, Sessions: n.sessions, SessionsMax: n.opts.SessionsMax, Shutdown: n.shutdown}
	n.mu.Unlock()
	n.publishNote(n.subj.Status(), method, node)
	_ = n.nc.Flush()
}

// Kill stops the node without a word: XCtrl finds out when it stays silent.
func (n *Node) Kill() { n.shut(false) }

// Close unregisters the node and disconnects.
func (n *Node) Close() { n.shut(true) }

func (n *Node) shut(unregister bool) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	n.wg.Wait()
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	if unregister {
		n.publishNote(n.subj.Status(), verto.MethodNodeUnregister, verto.Node{UUID: n.opts.UUID, Name: n.opts.Name})
	}
	_ = n.nc.Flush()
	n.nc.Close()
}

// Call returns a copy of a call.
func (n *Node) Call(id string) (Call, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.calls[id]
	if !ok {
		return Call{}, false
	}
	return *c, true
}

// Calls returns the ids of the calls the node holds.
func (n *Node) Calls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.calls))
	for id := range n.calls {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Wait returns the first received message (from the start of the node's
// life) with the method that satisfies match (nil matches all), waiting for
// it until ctx ends.
func (n *Node) Wait(ctx context.Context, method string, match func(Received) bool) (Received, error) {
	seen := 0
	for {
		n.mu.Lock()
		for ; seen < len(n.log); seen++ {
			r := n.log[seen]
			if r.Method == method && (match == nil || match(r)) {
				n.mu.Unlock()
				return r, nil
			}
		}
		ch := n.changed
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Received{}, fmt.Errorf("fakenode %s: waiting for %s: %w", n.opts.UUID, method, ctx.Err())
		}
	}
}

// Count is how many messages with method the node received so far.
func (n *Node) Count(method string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, r := range n.log {
		if r.Method == method {
			c++
		}
	}
	return c
}

// Seen reports whether the node received a message with method so far.
func (n *Node) Seen(method string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, r := range n.log {
		if r.Method == method {
			return true
		}
	}
	return false
}

func (n *Node) record(subject, method string, params json.RawMessage) {
	if n.opts.Quiet {
		return
	}
	n.mu.Lock()
	n.log = append(n.log, Received{Subject: subject, Method: method, Params: params})
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// bareResult is what a Bare node answers to every request.
var bareResult = []byte(`{"jsonrpc":"2.0","id":1,"result":{"message":"SENT"}}`)

// onMsg handles what XCtrl sends the node.
func (n *Node) onMsg(m *nats.Msg) {
	if n.opts.Bare {
		if m.Reply != "" {
			_ = m.Respond(bareResult)
		}
		return
	}
	msg, err := verto.DecodeMessage(m.Data, verto.Limits{MaxBytes: 4 << 20})
	if err != nil || msg.Kind() == verto.KindResult || msg.Kind() == verto.KindError {
		return
	}
	n.record(m.Subject, msg.Method, msg.Params)
	switch msg.Method {
	case verto.MethodInvite, verto.MethodAnswer, verto.MethodBye, verto.MethodAttach, verto.MethodModify, verto.MethodInfo:
		// The hot path of the relay benchmark: the members this node
		// needs, read in one scan of the params (DecodeMessage checked
		// them). The module reads them all, with verto's DecodeCallParams.
		p, err := readCallParams(msg.Params)
		if err != nil {
			n.respondErr(m, msg, verto.AsError(err))
			return
		}
		switch msg.Method {
		case verto.MethodInvite:
			n.invite(m, msg, &p)
		case verto.MethodAnswer:
			n.answer(m, msg, &p)
		case verto.MethodBye:
			n.bye(m, msg, &p)
		default:
			n.callMethod(m, msg, &p)
		}
		return
	}
	var o verto.Object
	if len(msg.Params) > 0 {
		if err := o.UnmarshalJSON(msg.Params); err != nil {
			n.respondErr(m, msg, verto.AsError(err))
			return
		}
	}
	sessid, ctrl := o.String(verto.KeySessid), o.String(verto.KeyCtrlUUID)
	switch msg.Method {
	case verto.MethodCtrlStartUp:
		n.status(verto.MethodNodeRegister)
	case verto.MethodSubscribe, verto.MethodUnsubscribe, verto.MethodBroadcast:
		var chans verto.Channels
		if raw, ok := o.Raw("eventChannel"); ok {
			_ = json.Unmarshal(raw, &chans)
		}
		switch msg.Method {
		case verto.MethodSubscribe:
			n.subscribe(m, msg, sessid, ctrl, chans)
		case verto.MethodUnsubscribe:
			n.unsubscribe(m, msg, sessid, ctrl, chans)
		default:
			data, _ := o.Raw("data")
			n.broadcast(m, msg, sessid, ctrl, chans, data, o.String("userid"), o.String("fromDisplay"))
		}
	case verto.MethodXrtcLogin:
		n.xrtcLogin(m, msg, sessid, ctrl)
	case verto.MethodXrtcDetach:
		n.xrtcDetach(sessid, ctrl)
	case verto.MethodJSAPI, verto.MethodFSAPI:
		n.respond(m, msg, map[string]any{"message": "+OK fake"})
	case verto.MethodPing, verto.MethodXrtcPing:
		n.respond(m, msg, verto.PongResult{Message: "PONG", NodeUUID: n.opts.UUID})
	case verto.MethodXrtcCalls:
		n.respond(m, msg, n.callsOf(ctrl))
	default:
		n.respondErr(m, msg, verto.ErrMethodNotFound)
	}
}

// readCallParams reads what the node needs of a call-scoped request's
// params: sessid, ctrl_uuid, action, and dialogParams' callID and
// destination_number.
func readCallParams(params json.RawMessage) (verto.CallParams, error) {
	var p verto.CallParams
	if len(params) == 0 || string(params) == "null" {
		return p, nil
	}
	str := func(raw json.RawMessage) string { s, _ := verto.StringValue(raw); return s }
	err := verto.EachMember(params, func(key []byte, val json.RawMessage) error {
		switch string(key) {
		case verto.KeySessid:
			p.Sessid = str(val)
		case verto.KeyCtrlUUID:
			p.CtrlUUID = str(val)
		case "action":
			p.Action = str(val)
		case "dialogParams":
			if val[0] != '{' {
				return nil // null, or not an object: no call named
			}
			dp := &verto.DialogParams{}
			p.DialogParams = dp
			return verto.EachMember(val, func(key []byte, val json.RawMessage) error {
				switch string(key) {
				case "callID":
					dp.CallID = str(val)
				case "destination_number":
					dp.DestinationNumber = str(val)
				}
				return nil
			})
		}
		return nil
	})
	return p, err
}

// sent is the result of a verto.info.
var sent = json.RawMessage(`{"message":"SENT"}`)

func (n *Node) invite(m *nats.Msg, msg *verto.Message, p *verto.CallParams) {
	id := p.CallID()
	dest := ""
	if p.DialogParams != nil {
		dest = p.DialogParams.DestinationNumber
	}
	if dest == "fail" {
		n.respondErr(m, msg, (&verto.Error{Code: verto.CodeSessionError, Message: verto.MsgCallError}).
			With("cause", verto.CauseNoRouteDestination.String()).With("causeCode", int(verto.CauseNoRouteDestination)))
		return
	}
	if dest == "silent" {
		return // never answers: XCtrl's relay times out
	}
	n.mu.Lock()
	if _, taken := n.calls[id]; taken {
		// As mod_xrtc (and mod_verto): a channel UUID is not created twice.
		n.mu.Unlock()
		n.respondErr(m, msg, (&verto.Error{Code: verto.CodeSessionError, Message: verto.MsgCannotCreate}).With("callID", id))
		return
	}
	n.calls[id] = &Call{ID: id, Sessid: p.Sessid, Ctrl: p.CtrlUUID, Dest: dest}
	n.mu.Unlock()
	n.respond(m, msg, verto.InviteResult{Message: "CALL CREATED", CallID: id, NodeUUID: n.opts.UUID})
	if n.opts.AutoAnswer {
		n.Answer(id)
	}
}

// Answer answers a call placed by a client (publishes verto.answer).
func (n *Node) Answer(callID string) bool {
	n.mu.Lock()
	c, ok := n.calls[callID]
	if ok {
		c.Answered = true
	}
	n.mu.Unlock()
	if !ok {
		return false
	}
	n.publishReq(n.subj.Ctrl(c.Ctrl), verto.MethodAnswer, verto.ServerCallParams{CallID: callID, SDP: "v=0 answer",
		Sessid: c.Sessid, NodeUUID: n.opts.UUID})
	return true
}

func (n *Node) answer(m *nats.Msg, msg *verto.Message, p *verto.CallParams) {
	id := p.CallID()
	n.mu.Lock()
	c, ok := n.calls[id]
	switch {
	case !ok:
		n.mu.Unlock()
		n.respondErr(m, msg, verto.ErrCallNotExist.With("callID", id))
		return
	case c.Answered:
		n.mu.Unlock()
		n.respondErr(m, msg, &verto.Error{Code: verto.CodeSessionError, Message: verto.MsgCallAnswered})
		return
	}
	c.Answered, c.Sessid, c.Ctrl = true, p.Sessid, p.CtrlUUID
	ctrls := append([]string(nil), c.Ctrls...)
	n.mu.Unlock()
	n.respond(m, msg, map[string]any{"node_uuid": n.opts.UUID})
	for _, ctrl := range ctrls {
		n.publishNote(n.subj.Ctrl(ctrl), verto.MethodXrtcAnswered, verto.AnsweredParams{CallID: id, Sessid: p.Sessid,
			CtrlUUID: p.CtrlUUID, NodeUUID: n.opts.UUID})
	}
}

func (n *Node) bye(m *nats.Msg, msg *verto.Message, p *verto.CallParams) {
	id := p.CallID()
	n.mu.Lock()
	c, ok := n.calls[id]
	delete(n.calls, id)
	n.mu.Unlock()
	if !ok {
		n.respondErr(m, msg, verto.ErrCallNotExist.With("callID", id))
		return
	}
	n.respond(m, msg, verto.ByeResult{CallID: id, Message: "CALL ENDED", Cause: verto.CauseNormalClearing.String(),
		CauseCode: int(verto.CauseNormalClearing)})
	// Sockets still ringing the call (a call to a user) hear the end.
	if c.Inbound {
		for _, ctrl := range c.Ctrls {
			n.publishReq(n.subj.Ctrl(ctrl), verto.MethodBye, verto.ServerCallParams{CallID: id,
				Cause: verto.CauseNormalClearing.String(), CauseCode: int(verto.CauseNormalClearing), NodeUUID: n.opts.UUID})
		}
	}
}

func (n *Node) callMethod(m *nats.Msg, msg *verto.Message, p *verto.CallParams) {
	id := p.CallID()
	if id == "" && msg.Method == verto.MethodInfo {
		n.respond(m, msg, sent)
		return
	}
	n.mu.Lock()
	c, ok := n.calls[id]
	if ok && msg.Method == verto.MethodAttach {
		c.Detached = false
	}
	n.mu.Unlock()
	if !ok {
		n.respondErr(m, msg, verto.ErrCallNotExist.With("callID", id))
		return
	}
	switch msg.Method {
	case verto.MethodModify:
		hs := verto.HoldStateActive
		if p.Action == verto.ActionHold || p.Action == verto.ActionToggleHold {
			hs = verto.HoldStateHeld
		}
		n.respond(m, msg, verto.ModifyResult{CallID: id, Action: p.Action, HoldState: hs})
	case verto.MethodInfo:
		n.respond(m, msg, sent)
	default:
		n.respond(m, msg, map[string]any{})
	}
}

func (n *Node) subscribe(m *nats.Msg, msg *verto.Message, sessid, ctrl string, chans []string) {
	var res verto.SubscribeResult
	n.mu.Lock()
	for _, ch := range chans {
		family, _, _ := strings.Cut(ch, ".")
		if isConference(ch) && !n.granted[sessid][ch] || slices.Contains(n.opts.Refuse, family) {
			res.UnauthorizedChannels = append(res.UnauthorizedChannels, ch)
			continue
		}
		if n.channels[ch] == nil {
			n.channels[ch] = map[subscriber]bool{}
		}
		n.channels[ch][subscriber{sessid, ctrl}] = true
		res.SubscribedChannels = append(res.SubscribedChannels, ch)
	}
	n.mu.Unlock()
	n.respond(m, msg, res)
}

func (n *Node) unsubscribe(m *nats.Msg, msg *verto.Message, sessid, ctrl string, chans []string) {
	var res verto.UnsubscribeResult
	n.mu.Lock()
	for _, ch := range chans {
		delete(n.channels[ch], subscriber{sessid, ctrl})
		res.UnsubscribedChannels = append(res.UnsubscribedChannels, ch)
	}
	n.mu.Unlock()
	n.respond(m, msg, res)
}

func isConference(ch string) bool {
	return strings.HasPrefix(ch, "conference-") || strings.HasPrefix(ch, "confman-")
}

func (n *Node) broadcast(m *nats.Msg, msg *verto.Message, sessid, ctrl string, chans []string, data json.RawMessage,
	userid, fromDisplay string) {
	if len(chans) != 1 {
		n.respond(m, msg, (&verto.Error{Code: verto.CodeSessionError, Message: "eventChannel not specified."}))
		return
	}
	ch := chans[0]
	var d struct {
		LiveArray *verto.LiveArrayCommand `json:"liveArray"`
		Action    string                  `json:"action"`
		Message   string                  `json:"message"`
		Type      string                  `json:"type"`
	}
	_ = json.Unmarshal(data, &d)
	n.respond(m, msg, map[string]any{})
	switch {
	case d.LiveArray != nil && d.LiveArray.Command == "bootstrap":
		n.publishReq(n.subj.Ctrl(ctrl), verto.MethodEvent, map[string]any{
			"eventChannel": ch, "sessid": sessid, "node_uuid": n.opts.UUID,
			"data": map[string]any{"action": "bootObj", "name": d.LiveArray.Name, "wireSerno": -1, "data": []any{}},
		})
	case d.Action == "send":
		typ := d.Type
		if typ == "" {
			typ = "message"
		}
		n.mu.Lock()
		subs := make([]subscriber, 0, len(n.channels[ch]))
		for s := range n.channels[ch] {
			subs = append(subs, s)
		}
		n.mu.Unlock()
		for _, s := range subs {
			n.publishReq(n.subj.Ctrl(s.ctrl), verto.MethodEvent, map[string]any{
				"eventChannel": ch, "sessid": s.sessid, "node_uuid": n.opts.UUID,
				"data": map[string]any{"direction": "outbound", "message": d.Message, "fromDisplay": fromDisplay,
					"from": userid, "type": typ},
			})
		}
	}
}

// JoinConference puts a call into conference conf: the node grants the
// call's socket the conference channels and tells it with a
// conference-liveArray-join event.
func (n *Node) JoinConference(callID, conf string) bool {
	n.mu.Lock()
	c, ok := n.calls[callID]
	if !ok {
		n.mu.Unlock()
		return false
	}
	pvt := verto.PvtData{CallID: callID, Action: verto.PvtActionJoin, LAName: conf, Role: "participant",
		LAChannel: "conference-liveArray." + conf, ChatChannel: "conference-chat." + conf,
		InfoChannel: "conference-info." + conf, ModChannel: "conference-mod." + conf}
	if n.granted[c.Sessid] == nil {
		n.granted[c.Sessid] = map[string]bool{}
	}
	for _, ch := range pvt.Channels() {
		n.granted[c.Sessid][ch] = true
	}
	sessid, ctrl := c.Sessid, c.Ctrl
	n.mu.Unlock()
	n.publishReq(n.subj.Ctrl(ctrl), verto.MethodEvent, map[string]any{"eventChannel": sessid, "eventType": "channelPvtData",
		"pvtData": pvt, "sessid": sessid, "node_uuid": n.opts.UUID})
	return true
}

func (n *Node) xrtcLogin(m *nats.Msg, msg *verto.Message, sessid, ctrl string) {
	var again []*Call
	n.mu.Lock()
	for _, c := range n.calls {
		if c.Sessid == sessid && c.Answered {
			c.Ctrl, c.Detached = ctrl, false
			cc := *c
			again = append(again, &cc)
		}
	}
	n.mu.Unlock()
	sort.Slice(again, func(i, j int) bool { return again[i].ID < again[j].ID })
	reply := verto.LoginReply{Reattached: []string{}, NodeUUID: n.opts.UUID}
	for _, c := range again {
		n.publishReq(n.subj.Ctrl(ctrl), verto.MethodAttach, verto.ServerCallParams{CallID: c.ID, SDP: "v=0 attach",
			Sessid: sessid, NodeUUID: n.opts.UUID})
		reply.Reattached = append(reply.Reattached, c.ID)
	}
	n.respond(m, msg, reply)
}

// callsOf answers xrtc.calls: the calls bound to ctrl.
func (n *Node) callsOf(ctrl string) verto.CallsReply {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := verto.CallsReply{NodeUUID: n.opts.UUID, Calls: []verto.CallState{}}
	for id, c := range n.calls {
		if c.Ctrl != ctrl && !slices.Contains(c.Ctrls, ctrl) {
			continue
		}
		st := "ringing"
		switch {
		case c.Detached:
			st = "detached"
		case c.Answered:
			st = "active"
		}
		out.Calls = append(out.Calls, verto.CallState{CallID: id, Sessid: c.Sessid, CtrlUUID: c.Ctrl, State: st})
	}
	return out
}

// Drop forgets a call without telling anyone (its bye was lost).
func (n *Node) Drop(callID string) { n.forget(callID) }

// Detach marks a call detached, as a node does when it takes its socket for
// gone.
func (n *Node) Detach(callID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.calls[callID]; ok && c.Answered {
		c.Detached = true
	}
}

// xrtcDetach: the socket closed. Only calls still bound to that XCtrl are
// touched: a login elsewhere may already have taken them.
func (n *Node) xrtcDetach(sessid, ctrl string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, c := range n.calls {
		if c.Sessid != sessid || c.Ctrl != ctrl {
			continue
		}
		if c.Answered {
			c.Detached = true
		} else if !c.Inbound {
			delete(n.calls, id)
		}
	}
}

// Originate calls a WebRTC user: a verto.invite request to subject ("" is
// the XCtrl queue subject cn.xswitch.ctrl.rtc). It returns XCtrl's reply.
func (n *Node) Originate(ctx context.Context, subject, login, callID string) (*verto.Message, error) {
	return n.ring(ctx, subject, verto.ServerCallParams{
		CallID: callID, SDP: "v=0 offer", CallerIDName: "Node", CallerIDNumber: "9999", CalleeIDNumber: login,
		DisplayDirection: "outbound", NodeUUID: n.opts.UUID, Login: login})
}

// ring sends the verto.invite of a call to a user or a socket and keeps the
// call with the XCtrl instances that ring it.
func (n *Node) ring(ctx context.Context, subject string, p verto.ServerCallParams) (*verto.Message, error) {
	if subject == "" {
		subject = n.subj.CtrlRTC()
	}
	callID, login := p.CallID, p.Login
	req, err := verto.NewRequest(verto.StringID("o-"+callID), verto.MethodInvite, p)
	if err != nil {
		return nil, err
	}
	b, _ := req.Marshal()
	n.mu.Lock()
	n.calls[callID] = &Call{ID: callID, Login: login, Inbound: true}
	n.mu.Unlock()
	rm, err := n.nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		n.forget(callID)
		return nil, err
	}
	rep, err := verto.DecodeMessage(rm.Data, verto.Limits{})
	if err != nil {
		n.forget(callID)
		return nil, err
	}
	var rr verto.RingResult
	if rep.Error != nil || rep.DecodeResult(&rr) != nil {
		n.forget(callID)
		return rep, nil
	}
	n.mu.Lock()
	if c, ok := n.calls[callID]; ok {
		c.Ctrls = rr.Ctrls
	}
	n.mu.Unlock()
	return rep, nil
}

func (n *Node) forget(callID string) {
	n.mu.Lock()
	delete(n.calls, callID)
	n.mu.Unlock()
}

// Hangup ends a call from the node's side: verto.bye to the socket that
// holds it, or to every XCtrl ringing it.
func (n *Node) Hangup(callID string, cause verto.Cause) error {
	n.mu.Lock()
	c, ok := n.calls[callID]
	delete(n.calls, callID)
	n.mu.Unlock()
	if !ok {
		return errors.New("fakenode: no such call")
	}
	p := verto.ServerCallParams{CallID: callID, Cause: cause.String(), CauseCode: int(cause), NodeUUID: n.opts.UUID}
	if c.Sessid != "" {
		p.Sessid = c.Sessid
		n.publishReq(n.subj.Ctrl(c.Ctrl), verto.MethodBye, p)
		return nil
	}
	for _, ctrl := range c.Ctrls {
		n.publishReq(n.subj.Ctrl(ctrl), verto.MethodBye, p)
	}
	return nil
}

// Send publishes a node->client request (method, params) to an XCtrl.
func (n *Node) Send(ctrl, method string, params any) {
	n.publishReq(n.subj.Ctrl(ctrl), method, params)
}

// Request sends a node->client request to an XCtrl with a reply subject
// and returns XCtrl's answer.
func (n *Node) Request(ctx context.Context, ctrl, method string, params any) (*verto.Message, error) {
	req, err := verto.NewRequest(verto.StringID(fmt.Sprint(time.Now().UnixNano())), method, params)
	if err != nil {
		return nil, err
	}
	b, _ := req.Marshal()
	rm, err := n.nc.RequestWithContext(ctx, n.subj.Ctrl(ctrl), b)
	if err != nil {
		return nil, err
	}
	return verto.DecodeMessage(rm.Data, verto.Limits{})
}

var reqSeq struct {
	sync.Mutex
	n int64
}

func (n *Node) publishReq(subject, method string, params any) {
	reqSeq.Lock()
	reqSeq.n++
	id := reqSeq.n
	reqSeq.Unlock()
	m, err := verto.NewRequest(verto.StringID(fmt.Sprintf("n%d", id)), method, params)
	if err != nil {
		return
	}
	b, _ := m.Marshal()
	_ = n.nc.Publish(subject, b)
}

func (n *Node) publishNote(subject, method string, params any) {
	m, err := verto.NewNotification(method, params)
	if err != nil {
		return
	}
	b, _ := m.Marshal()
	_ = n.nc.Publish(subject, b)
}

func (n *Node) respond(m *nats.Msg, msg *verto.Message, result any) {
	if m.Reply == "" || msg.ID.IsZero() {
		return
	}
	r, err := verto.NewResult(msg.ID, result)
	if err != nil {
		return
	}
	b, _ := r.Marshal()
	_ = m.Respond(b)
}

func (n *Node) respondErr(m *nats.Msg, msg *verto.Message, e *verto.Error) {
	if m.Reply == "" || msg.ID.IsZero() {
		return
	}
	b, _ := verto.NewError(msg.ID, e).Marshal()
	_ = m.Respond(b)
}
