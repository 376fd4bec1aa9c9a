package ctrl

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/verto"
)

// login handles the login method: throttle, authenticate, take the sessid
// over (punting its previous socket here or on another instance), register
// the socket in the registry, answer, then verto.clientReady.
func (srv *Server) login(s *Session, m *verto.Message, r replier) {
	var p verto.LoginParams
	if err := m.DecodeParams(&p); err != nil {
		srv.metrics.login(LoginFailed)
		r.fail(authFailure(verto.MsgMissingParams))
		return
	}
	// Identifiers end up in NATS subjects (registry keys): bound them
	// before anything else sees them.
	if verr := checkLoginIdents(&p); verr != nil {
		srv.metrics.login(LoginFailed)
		if srv.loginWarned.badIdent.now(time.Now()) {
			s.logger().Warn("login refused: bad identifier; logged once in 10 s", "err", verr.Message)
		}
		r.fail(verr)
		return
	}
	if p.Sessid != "" && s.Sessid() == "" {
		s.mu.Lock()
		if s.ident == nil {
			s.sessid = p.Sessid // remembered for logs until login succeeds
		}
		s.mu.Unlock()
	}
	hasToken := p.LoginParam(ParamXCCToken) != "" || p.LoginParam(ParamXUISessid) != ""
	if p.Login == "" && !hasToken {
		r.fail(verto.ErrAuthRequired) // verto.js's first, empty login
		return
	}
	now := time.Now()
	client, named := throttleKey(s.addr), ""
	if p.Login != "" {
		named = directoryKey(p.Login, srv.cfg.DefaultDomain, srv.cfg.ForceRegisterDomain)
	}
	if srv.byAddr.Blocked(client, now) || (named != "" && srv.byUser.Blocked(named, now)) {
		srv.metrics.login(LoginThrottled)
		if srv.loginWarned.throttled.now(now) {
			s.logger().Warn("login throttled: too many failures of its address or user; logged once in 10 s", "login", p.Login)
		}
		r.fail(authFailure(verto.MsgAuthFailure))
		return
	}
	ctx, cancel := context.WithTimeout(srv.ctx, srv.cfg.Timers.Auth+time.Second)
	defer cancel()
	id, verr := srv.auth.Authenticate(ctx, &p)
	if verr != nil {
		if verr.Code == verto.CodeAuthRequired {
			r.fail(verr)
			return
		}
		if verr.Message == verto.MsgDirectoryUnavailable {
			// Not the client's fault: not counted against it.
			srv.metrics.login(LoginFailed)
			if srv.loginWarned.undecided.now(now) {
				s.logger().Warn("login not decided: the directory is unavailable; logged once in 10 s", "login", p.Login)
			}
			r.fail(verr)
			return
		}
		srv.byAddr.Fail(client, now)
		if named != "" {
			srv.byUser.Fail(named, now)
		}
		srv.metrics.login(LoginFailed)
		s.logger().Info("login failed", "login", p.Login, "reason", verr.Message)
		r.fail(verr)
		return
	}
	id.User.ClientAddress, id.User.ClientPort = s.addr, s.port
	login := id.User.Login
	if err := verto.CheckLogin(login); err != nil {
		// A token or the xui check named a login no socket may have.
		srv.metrics.login(LoginFailed)
		s.logger().Warn("login refused: the authenticated identity is unusable", "err", err)
		r.fail(authFailure(verto.MsgAuthFailure))
		return
	}
	// The socket's logger is built when something is logged: most logins
	// log one line, at a level a busy deployment often leaves off.
	log := func() *slog.Logger { return s.logger().With("login", login) }

	// A socket that is logged in keeps its sessid and its user.
	s.mu.Lock()
	cur, curID := s.sessid, s.ident
	s.mu.Unlock()
	if curID != nil {
		if curID.User.Login != login {
			srv.metrics.login(LoginInUse)
			r.fail(authFailure(verto.MsgSessionInUse))
			return
		}
		srv.metrics.login(LoginOK)
		r.result(loginResult(cur, curID))
		return
	}
	// A new login writes the registry: bounded per user.
	if ok, warn := srv.logins.allow(login, now); !ok {
		srv.metrics.login(LoginRateLimited)
		if warn {
			log().Warn("login refused: over the login rate of one user (--login-rate-per-user); logged once in 10 s")
		}
		r.fail(authFailure(verto.MsgRateLimited))
		return
	}
	sessid := p.Sessid
	if sessid == "" {
		sessid = NewUUID()
	}
	inUse := func() {
		srv.metrics.login(LoginInUse)
		log().Warn("session in use by another user")
		r.fail(authFailure(verto.MsgSessionInUse))
		s.closeAfterFlush(websocket.ClosePolicyViolation, verto.MsgSessionInUse)
	}
	prev := srv.sessions.Get(sessid)
	if prev != nil && prev != s && prev.loginName() != login {
		inUse()
		return
	}
	maxSockets := srv.cfg.Limits.MaxSocketsPerUser
	tooMany := func() {
		srv.metrics.login(LoginTooManySockets)
		if srv.loginWarned.tooMany.now(now) {
			log().Warn("login refused: the user holds --max-sockets-per-user sockets here; logged once in 10 s", "max", maxSockets)
		}
		r.fail(authFailure(verto.MsgTooManySockets))
	}
	// Before the registry is written (Bind decides for sure, below).
	if replaces := prev != nil && prev != s; maxSockets > 0 && !replaces && srv.sessions.Count(login) >= maxSockets {
		tooMany()
		return
	}
	// The call book is read while the registry is written: a login waits
	// for one JetStream round trip, not three.
	booked := make(chan []string, 1)
	go func() { booked <- srv.loginNodes(ctx, sessid) }()
	lease := &Lease{Entry: RegEntry{CtrlUUID: srv.uuid, Sessid: sessid, Login: login}}
	owner, held, err := srv.registrar.Claim(ctx, lease, jetStreamWait)
	if err != nil {
		log().Warn("registry write did not land yet; retrying in the background", "err", err)
	}
	if held && owner.Login != login {
		<-booked
		inUse()
		return
	}

	user := assertedUser(id)
	s.mu.Lock()
	// A socket that closed meanwhile has been forgotten (finish): it gets
	// no identity, and its lease goes.
	gone := s.finished.Load()
	if !gone {
		s.sessid, s.ident, s.userRaw, s.lease = sessid, id, user, lease
		s.userRate, s.userWeight = srv.userMsgs.acquire(login), len(user)
	}
	s.mu.Unlock()
	if gone {
		<-booked
		srv.registrar.Remove(lease)
		return
	}
	prev, full := srv.sessions.Bind(s, sessid, login, maxSockets)
	if full {
		// Logins of the user raced past the check above: this one is
		// not filed, and takes nothing with it.
		s.mu.Lock()
		ur := s.userRate
		s.ident, s.userRaw, s.lease, s.userRate, s.userWeight = nil, nil, nil, nil, 0
		s.mu.Unlock()
		srv.userMsgs.release(ur)
		srv.registrar.Remove(lease)
		<-booked
		tooMany()
		return
	}
	// Logged in: the socket no longer counts against its address's
	// bound on sockets that have not logged in, and may send frames of
	// MaxFrameBytes.
	if sc := slotOf(s.conn); sc != nil {
		sc.loggedIn()
	}
	s.authed.Store(true)
	// The sessid's socket on another instance goes once this one is
	// filed: a login refused above leaves it be.
	if held && owner.CtrlUUID != srv.uuid {
		srv.sendPunt(owner.CtrlUUID, sessid, login)
	}
	if prev != nil {
		// Same user, same sessid, this instance: punt the old socket and
		// detach its calls now, before xrtc.login re-attaches them here.
		prev.punt()
		prev.finish()
		// finish may be running already in prev's reader (the old socket
		// closed at this very moment): xrtc.login must not overtake its
		// xrtc.detach, or the node would detach what it re-attaches.
		prev.waitGone(2 * time.Second)
	}
	srv.metrics.login(LoginOK)
	if srv.log.Enabled(srv.ctx, slog.LevelInfo) {
		log().Info("logged in", "via", id.Via)
	}
	r.result(loginResult(sessid, id))
	srv.clientReady(s, sessid, user, <-booked)
}

// throttleKey is the key failed logins count under for a client address:
// the key of the socket gate (an IPv6 address by its /64, every address of
// which is one client's; an IPv4-mapped address as IPv4), the text itself
// when it is not an IP address.
func throttleKey(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		if k, ok := addrKey(a); ok {
			return k.String()
		}
	}
	return addr
}

// loginNodes are the live nodes holding calls of sessid, from the call
// book; when the book cannot answer, every live node (correct, only
// slower).
func (srv *Server) loginNodes(ctx context.Context, sessid string) []string {
	now := time.Now()
	bctx, cancel := context.WithTimeout(ctx, min(jetStreamWait, srv.cfg.Timers.LoginWait))
	defer cancel()
	booked, err := srv.book.Nodes(bctx, sessid)
	if err != nil {
		srv.log.Warn("call book not available: asking every node", "sessid", sessid, "err", err)
		return srv.nodes.Live(now)
	}
	out := booked[:0]
	for _, n := range booked {
		if srv.nodes.Alive(n, now) {
			out = append(out, n)
		}
	}
	return out
}

// jetStreamWait bounds each wait of a login on JetStream: the lookup of the
// sessid's previous owner, the registry write, the call book. They answer in
// milliseconds, but while a NATS cluster elects a new leader for a bucket
// (a member died: seconds) they hang, and a login must not hang with them.
// Past the bound the login goes on without the answer: the previous owner
// is not punted (the nodes re-offer the calls here anyway), the write is
// retried in the background, and every live node is asked instead of the
// call book's.
const jetStreamWait = 500 * time.Millisecond

// checkLoginIdents bounds the sessid and login of a login request.
func checkLoginIdents(p *verto.LoginParams) *verto.Error {
	if p.Sessid != "" {
		if err := verto.CheckSessid(p.Sessid); err != nil {
			return verto.IdentRPC(err)
		}
	}
	if p.Login != "" {
		if err := verto.CheckLogin(p.Login); err != nil {
			return verto.IdentRPC(err)
		}
	}
	if err := verto.CheckUserVariables(len(p.UserVariables)); err != nil {
		return verto.IdentRPC(err)
	}
	return nil
}

// assertedUser is params.xrtc_user: the identity, plus the directory's
// permissions the node applies (verto.EventPermissions,
// verto.APIPermissions): absent for no restriction, [] for none allowed.
func assertedUser(id *Identity) json.RawMessage {
	list := func(l []string) *[]string {
		if l == nil {
			return nil
		}
		return &l
	}
	b, _ := json.Marshal(struct {
		verto.User
		AllowedEventChannels *[]string `json:"allowed_event_channels,omitempty"`
		AllowedJSAPI         *[]string `json:"allowed_jsapi,omitempty"`
		AllowedFSAPI         *[]string `json:"allowed_fsapi,omitempty"`
	}{id.User, list(id.AllowedEventChannels), list(id.AllowedJSAPI), list(id.AllowedFSAPI)})
	return b
}

func loginResult(sessid string, id *Identity) verto.LoginResult {
	res := verto.LoginResult{Message: "logged in", Sessid: sessid,
		Moderator: id.Moderator, StereoAudio: id.StereoAudio, Superuser: id.Superuser}
	if !id.Expires.IsZero() {
		res.AuthExpires = id.Expires.Unix()
	}
	return res
}

// sendPunt asks another instance to punt its socket with sessid.
func (srv *Server) sendPunt(ctrl, sessid, login string) {
	m, err := verto.NewNotification(verto.MethodXrtcPunt, verto.ControlParams{Sessid: sessid, CtrlUUID: srv.uuid,
		XrtcUser: &verto.User{Login: login}})
	if err != nil {
		return
	}
	b, _ := m.Marshal()
	if err := srv.bus.Publish(srv.subj.Ctrl(ctrl), "", b); err != nil {
		srv.log.Error("publish xrtc.punt", "sessid", sessid, "to", ctrl, "err", err)
	}
}

// punt tells the client it was logged in elsewhere and closes the socket.
func (s *Session) punt() {
	s.mu.Lock()
	s.punted = true
	s.mu.Unlock()
	s.logger().Info("punted: the sessid logged in again")
	s.sendRequest(verto.MethodPunt, json.RawMessage("{}"))
	s.closeAfterFlush(websocket.CloseNormalClosure, "punted")
}

// clientReady asks the nodes that hold calls of the sessid (nodes: the
// call book says which) to re-attach them (xrtc.login), waits for them (at most
// Timers.LoginWait) and sends verto.clientReady with the calls they
// re-attached. A sessid with no call reaches no node.
func (srv *Server) clientReady(s *Session, sessid string, user json.RawMessage, nodes []string) {
	send := func(reattached []string) {
		if reattached == nil {
			reattached = []string{}
		}
		s.sendRequest(verto.MethodClientReady, mustJSON(verto.ClientReadyParams{ReattachedSessions: reattached}))
	}
	if len(nodes) == 0 {
		send(nil)
		return
	}
	params := mustJSON(struct {
		Sessid   string          `json:"sessid"`
		CtrlUUID string          `json:"ctrl_uuid"`
		XrtcUser json.RawMessage `json:"xrtc_user"`
	}{sessid, srv.uuid, user})
	targets := make([]target, 0, len(nodes))
	for _, n := range nodes {
		id := srv.reqs.NextID()
		b, _ := (&verto.Message{JSONRPC: verto.Version, ID: verto.StringID(strconv.FormatUint(id, 10)),
			Method: verto.MethodXrtcLogin, Params: params}).Marshal()
		targets = append(targets, target{node: n, subject: srv.subj.Node(n), id: id, payload: b})
	}
	var once sync.Once
	srv.fanout(targets, srv.cfg.Timers.LoginWait, func(replies []*verto.Message) {
		once.Do(func() {
			var all []string
			seen := map[string]bool{}
			for _, rep := range replies {
				var lr verto.LoginReply
				if rep == nil || rep.DecodeResult(&lr) != nil {
					continue
				}
				for _, c := range lr.Reattached {
					if !seen[c] {
						seen[c] = true
						all = append(all, c)
					}
				}
			}
			send(all)
		})
	})
}
