package ctrl

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"xccrtc/verto"
)

// subscribe handles verto.subscribe. XCtrl keeps each socket's set of
// channels (for alreadySubscribed / notSubscribed and permission checks)
// and tells the node that owns a channel (learned from conference join
// events), or every live node for a channel nobody owns yet (presence.*).
// A node may still refuse a channel (a conference channel the socket was not
// granted): it comes back in unauthorizedChannels.
func (srv *Server) subscribe(s *Session, m *verto.Message, r replier) {
	var p verto.SubscribeParams
	if err := m.DecodeParams(&p); err != nil || len(p.EventChannel) == 0 {
		r.fail(&verto.Error{Code: verto.CodeInvalidParams, Message: verto.MsgParamsMissing})
		return
	}
	if verr := srv.checkChannels(s, p.EventChannel); verr != nil {
		r.fail(verr)
		return
	}
	// The user's channels, all its sockets together, are bounded: counted
	// and added under the user's lock, so that its sockets cannot race
	// past the bound.
	if u := s.userRate; u != nil {
		u.subMu.Lock()
		defer u.subMu.Unlock()
	}
	if verr := srv.checkUserChannels(s, p.EventChannel); verr != nil {
		r.fail(verr)
		return
	}
	id := s.Identity()
	var res verto.SubscribeResult
	groups := map[string][]string{} // owner node ("" = every node) -> channels
	s.mu.Lock()
	for _, ch := range p.EventChannel {
		if !s.mayUseChannelLocked(id, ch) {
			res.UnauthorizedChannels = append(res.UnauthorizedChannels, ch)
			continue
		}
		if _, ok := s.subs[ch]; ok {
			res.AlreadySubscribedChannels = append(res.AlreadySubscribedChannels, ch)
			continue
		}
		if s.subs == nil {
			s.subs = make(map[string]struct{})
		}
		s.subs[ch] = struct{}{}
		res.SubscribedChannels = append(res.SubscribedChannels, ch)
		node, _ := srv.router.ChannelNode(ch)
		groups[node] = append(groups[node], ch)
	}
	s.mu.Unlock()
	finish := func(refused map[string]bool) {
		if len(refused) > 0 {
			kept := res.SubscribedChannels[:0]
			s.mu.Lock()
			for _, ch := range res.SubscribedChannels {
				if refused[ch] {
					delete(s.subs, ch)
					res.UnauthorizedChannels = append(res.UnauthorizedChannels, ch)
				} else {
					kept = append(kept, ch)
				}
			}
			s.mu.Unlock()
			res.SubscribedChannels = kept
		}
		res.Sessid = s.Sessid()
		if len(res.SubscribedChannels) == 0 && len(res.AlreadySubscribedChannels) == 0 {
			// mod_verto's error, with the code it lacks there.
			r.fail((&verto.Error{Code: verto.CodeInvalidParams, Message: verto.MsgPermission}).
				With("unauthorizedChannels", res.UnauthorizedChannels))
			return
		}
		r.result(res)
	}
	targets := srv.channelTargets(s, m, groups)
	if len(targets) == 0 {
		finish(nil)
		return
	}
	srv.fanout(targets, srv.cfg.Timers.LoginWait, func(replies []*verto.Message) {
		// An owned channel is its node's to refuse; a channel nobody owns
		// (presence, FSevent) is refused when every node that answered
		// refuses it (e.g. FSevent where enable-fs-events is off).
		refused := map[string]bool{}
		answered, unowned := 0, map[string]int{}
		for i, rep := range replies {
			if rep == nil {
				continue
			}
			var sr verto.SubscribeResult
			if rep.Result != nil {
				_ = json.Unmarshal(rep.Result, &sr)
			} else if rep.Error != nil {
				rep.Error.Field("unauthorizedChannels", &sr.UnauthorizedChannels)
			}
			if targets[i].node == "" {
				answered++
			}
			for _, ch := range sr.UnauthorizedChannels {
				if targets[i].node != "" {
					refused[ch] = true
				} else {
					unowned[ch]++
				}
			}
		}
		for ch, n := range unowned {
			if n == answered {
				refused[ch] = true
			}
		}
		finish(refused)
	})
}

// unsubscribe handles verto.unsubscribe.
func (srv *Server) unsubscribe(s *Session, m *verto.Message, r replier) {
	var p verto.SubscribeParams
	if err := m.DecodeParams(&p); err != nil || len(p.EventChannel) == 0 {
		r.fail(&verto.Error{Code: verto.CodeInvalidParams, Message: verto.MsgParamsMissing})
		return
	}
	if len(p.EventChannel) > srv.cfg.Limits.MaxSubscriptions {
		r.fail(verto.Errorf(verto.CodeInvalidParams, "Invalid params: more than %d channels", srv.cfg.Limits.MaxSubscriptions))
		return
	}
	var res verto.UnsubscribeResult
	groups := map[string][]string{}
	s.mu.Lock()
	for _, ch := range p.EventChannel {
		if _, ok := s.subs[ch]; !ok {
			res.NotSubscribedChannels = append(res.NotSubscribedChannels, ch)
			continue
		}
		delete(s.subs, ch)
		res.UnsubscribedChannels = append(res.UnsubscribedChannels, ch)
		node, _ := srv.router.ChannelNode(ch)
		groups[node] = append(groups[node], ch)
	}
	s.mu.Unlock()
	if targets := srv.channelTargets(s, m, groups); len(targets) > 0 {
		srv.fanout(targets, srv.cfg.Timers.LoginWait, func([]*verto.Message) {})
	}
	if len(res.UnsubscribedChannels) == 0 {
		r.fail((&verto.Error{Code: verto.CodeSessionError, Message: "Not subscribed"}).
			With("notSubscribedChannels", res.NotSubscribedChannels))
		return
	}
	res.Sessid = s.Sessid()
	r.result(res)
}

// broadcast handles verto.broadcast: to the channel's node, stamped with
// the socket's login data (never the client's own userid/fromDisplay). As
// in mod_verto it always "succeeds": errors travel inside the result.
func (srv *Server) broadcast(s *Session, m *verto.Message, r replier) {
	var o verto.Object
	if len(m.Params) > 0 {
		if err := o.UnmarshalJSON(m.Params); err != nil {
			r.result(sessionError("eventChannel not specified."))
			return
		}
	}
	ch := o.String("eventChannel")
	id := s.Identity()
	if ch == "" {
		r.result(sessionError("eventChannel not specified."))
		return
	}
	if err := verto.CheckChannel(ch); err != nil {
		r.fail(verto.IdentRPC(err))
		return
	}
	s.mu.Lock()
	allowed := s.mayUseChannelLocked(id, ch)
	s.mu.Unlock()
	if !allowed {
		r.result(sessionError("Permission Denied."))
		return
	}
	if ok, warn := srv.casts.allow(id.User.Login, time.Now()); !ok {
		srv.metrics.castsLimited.Add(1)
		if warn {
			s.logger().Warn("broadcasts refused: over the rate of one user (--broadcast-rate-per-user); logged once in 10 s",
				"login", id.User.Login, "eventChannel", ch)
		}
		r.fail(sessionError(verto.MsgRateLimited))
		return
	}
	o.Set("userid", id.User.Login)
	o.Set("fromDisplay", id.Display())
	node, ok := srv.router.ChannelNode(ch)
	if !ok {
		node, ok = srv.router.Node(ch) // a channel named by a callID
	}
	subject := srv.subj.AnyNode()
	if ok && srv.nodes.Alive(node, time.Now()) {
		subject = srv.subj.Node(node)
	} else {
		node = ""
	}
	srv.relay(s, m, &o, node, subject, srv.cfg.Timers.Request, r, func(reply *verto.Message, err error) *verto.Message {
		if err == nil && reply.Error == nil {
			return nil
		}
		var e *verto.Error
		if err != nil {
			e = srv.clientReply(m.ID, nil, err, "", "").Error
		} else {
			e = reply.Error
		}
		res, _ := verto.NewResult(m.ID, e)
		return res
	})
}

// checkChannels bounds the channel names of a subscription and the number
// of channels one socket may hold.
func (srv *Server) checkChannels(s *Session, chans []string) *verto.Error {
	for _, ch := range chans {
		if err := verto.CheckChannel(ch); err != nil {
			return verto.IdentRPC(err)
		}
	}
	max := srv.cfg.Limits.MaxSubscriptions
	s.mu.Lock()
	n := len(s.subs)
	s.mu.Unlock()
	if len(chans) > max || n+len(chans) > max {
		return verto.Errorf(verto.CodeInvalidParams, "Invalid params: more than %d channels on one socket", max)
	}
	return nil
}

// checkUserChannels bounds the channels of the socket's user, all its
// sockets on this instance together (MaxSubscriptionsPerUser): those held,
// and those asked that this socket does not hold yet. Call with the
// user's subMu held.
func (srv *Server) checkUserChannels(s *Session, chans []string) *verto.Error {
	max := srv.cfg.Limits.MaxSubscriptionsPerUser
	if max <= 0 {
		return nil
	}
	held := 0
	for _, o := range srv.sessions.ByLogin(s.loginName()) {
		if o == s {
			continue
		}
		o.mu.Lock()
		held += len(o.subs)
		o.mu.Unlock()
	}
	s.mu.Lock()
	held += len(s.subs)
	for _, ch := range chans {
		if _, ok := s.subs[ch]; !ok {
			held++
		}
	}
	s.mu.Unlock()
	if held > max {
		return verto.Errorf(verto.CodeInvalidParams, "Invalid params: more than %d channels for one user", max)
	}
	return nil
}

// target is one request of a fan-out.
type target struct {
	node    string // "" for a request to a channel nobody owns
	subject string
	id      uint64
	payload []byte
}

// channelTargets builds one verto.(un)subscribe per owner node with that
// node's channels; channels without an owner go to every live node.
func (srv *Server) channelTargets(s *Session, m *verto.Message, groups map[string][]string) []target {
	s.mu.Lock()
	sessid, user := s.sessid, s.userRaw
	s.mu.Unlock()
	var out []target
	add := func(node, sendTo string, chans []string) {
		params, err := verto.EditParams(m.Params, func(o *verto.Object) {
			o.Set("eventChannel", chans)
			o.Set(verto.KeySessid, sessid)
			o.Set(verto.KeyCtrlUUID, srv.uuid)
			o.Set(verto.KeyNodeUUID, sendTo)
			o.SetRaw(verto.KeyXrtcUser, user)
		})
		if err != nil {
			return
		}
		id := srv.reqs.NextID()
		b, err := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
			Method: m.Method, Params: params}).Marshal()
		if err != nil {
			return
		}
		srv.metrics.relayedToNode(m.Method)
		out = append(out, target{node: node, subject: srv.subj.Node(sendTo), id: id, payload: b})
	}
	for node, chans := range groups {
		if node != "" {
			add(node, node, chans)
			continue
		}
		for _, n := range srv.nodes.Live(time.Now()) {
			add("", n, chans)
		}
	}
	return out
}

// fanout sends every target and calls done once with the replies (nil for a
// target that failed or timed out), in target order.
func (srv *Server) fanout(targets []target, timeout time.Duration, done func([]*verto.Message)) {
	replies := make([]*verto.Message, len(targets))
	var (
		mu   sync.Mutex
		left = len(targets)
	)
	for i, t := range targets {
		srv.reqs.Send(t.subject, t.id, t.payload, timeout, func(bm *BusMsg, err error) {
			var rep *verto.Message
			if err == nil {
				rep, _ = verto.DecodeMessage(bm.Data, busLimits)
			}
			mu.Lock()
			replies[i] = rep
			left--
			last := left == 0
			mu.Unlock()
			if last {
				done(replies)
			}
		})
	}
}
