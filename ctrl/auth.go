package ctrl

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"time"

	"xccrtc/conf"
	"xccrtc/verto"
)

// Identity is who a socket logged in as, with what the directory lets it do.
type Identity struct {
	User verto.User // asserted to nodes as params.xrtc_user

	// The directory's jsonrpc-allowed-* lists as mod_verto reads them: nil
	// allows everything (__ANY__, a blind-reg login, a token login of a
	// user the directory does not know); an empty list allows nothing
	// (unset in the directory), login aside.
	AllowedMethods       []string
	AllowedEventChannels []string
	AllowedJSAPI         []string
	AllowedFSAPI         []string

	Expires     time.Time // zero: never; the socket is closed when it passes
	Moderator   bool
	StereoAudio bool
	Superuser   bool
	Via         string // "password", "blind-reg", "xcc_token" or "xui_sessid"
}

// MethodAllowed: login always; else the method or its part before the
// first dot is in jsonrpc-allowed-methods (case-insensitive), as in
// mod_verto.
func (id *Identity) MethodAllowed(method string) bool {
	return method == verto.MethodLogin || conf.PermAllows(id.AllowedMethods, method)
}

// EventChannelAllowed: the channel or its part before the first dot is in
// jsonrpc-allowed-event-channels.
func (id *Identity) EventChannelAllowed(ch string) bool {
	return conf.PermAllows(id.AllowedEventChannels, ch)
}

// APIPermissions are the identity's jsonrpc-allowed-jsapi / -fsapi, as
// XCtrl checks them and asserts them to the node that runs the command.
func (id *Identity) APIPermissions() *verto.APIPermissions {
	return &verto.APIPermissions{AllowedJSAPI: id.AllowedJSAPI, AllowedFSAPI: id.AllowedFSAPI}
}

// JSAPIAllowed is mod_verto's check of a jsapi request
// (verto.APIPermissions.JSAPIAllowed).
func (id *Identity) JSAPIAllowed(params *verto.Object) bool {
	return id.APIPermissions().JSAPIAllowed(params)
}

// FSAPIAllowed is mod_verto's auth_api_command
// (verto.APIPermissions.FSAPIAllowed).
func (id *Identity) FSAPIAllowed(cmd, arg string) bool {
	return id.APIPermissions().FSAPIAllowed(cmd, arg)
}

// Display is what XCtrl stamps as fromDisplay: caller-id-name, else the
// user id.
func (id *Identity) Display() string {
	if id.User.CallerIDName != "" {
		return id.User.CallerIDName
	}
	return id.User.ID
}

// Authenticator checks a login request. A failure is the *verto.Error to
// send back (-32000 for a login without credentials, -32001 otherwise).
type Authenticator interface {
	Authenticate(ctx context.Context, p *verto.LoginParams) (*Identity, *verto.Error)
}

// Auth is the standard Authenticator: loginParams.xcc_token (HS256 JWT),
// then loginParams.xui_sessid (HTTP check), then login/passwd against the
// directory as mod_verto checks them. A token check wins over the password.
type Auth struct {
	Users         UserStore // may be nil: no password logins (but BlindReg)
	DefaultDomain string    // domain of a login without @domain
	// ForceRegisterDomain is mod_verto's force-register-domain: every
	// login's domain is this one, whatever the login says.
	ForceRegisterDomain string
	// BlindReg is mod_verto's blind-reg: a login the directory does not
	// know is accepted with any password, without directory data or
	// restrictions. A user the directory knows still needs its password.
	BlindReg bool
	JWT      *JWTVerifier // nil: xcc_token refused
	XUI      *XUIChecker  // nil: xui_sessid refused
	Now      func() time.Time
	Log      *slog.Logger // nil: lookup failures are not logged here
	// warned, when set, lets lookup failures be logged once in 10 s: a
	// client may repeat a login the directory cannot decide without end.
	warned *logEvery
}

// Login param keys of the token variants.
const (
	ParamXCCToken  = "xcc_token"
	ParamXUISessid = "xui_sessid"
)

func (a *Auth) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate implements Authenticator.
func (a *Auth) Authenticate(ctx context.Context, p *verto.LoginParams) (*Identity, *verto.Error) {
	if tok := p.LoginParam(ParamXCCToken); tok != "" {
		if a.JWT == nil {
			return nil, authFailure(verto.MsgAuthFailure)
		}
		c, err := a.JWT.Verify(tok, a.now())
		if err != nil {
			return nil, authFailure(verto.MsgAuthFailure)
		}
		login := c.LoginName()
		if login == "" {
			login = p.Login
		}
		id, verr := a.identity(ctx, login, p, "xcc_token")
		if verr != nil {
			return nil, verr
		}
		id.Expires = c.ExpiresAt()
		return id, nil
	}
	if tok := p.LoginParam(ParamXUISessid); tok != "" {
		if a.XUI == nil {
			return nil, authFailure(verto.MsgAuthFailure)
		}
		r, err := a.XUI.Check(ctx, tok, p.Login, p.Sessid)
		switch {
		case errors.Is(err, ErrXUIRejected):
			return nil, authFailure(verto.MsgAuthFailure)
		case err != nil:
			// Not decided (the endpoint is down or slow): not the
			// client's failure.
			return nil, a.unavailable(err)
		}
		login := r.Login
		if login == "" {
			login = p.Login
		}
		id, verr := a.identity(ctx, login, p, "xui_sessid")
		if verr != nil {
			return nil, verr
		}
		if r.Expires > 0 {
			id.Expires = time.Unix(r.Expires, 0)
		}
		if r.CallerIDName != "" {
			id.User.CallerIDName = r.CallerIDName
		}
		if r.CallerIDNumber != "" {
			id.User.CallerIDNumber = r.CallerIDNumber
		}
		return id, nil
	}
	if p.Login == "" {
		return nil, verto.ErrAuthRequired
	}
	if p.Passwd == "" {
		return nil, authFailure(verto.MsgMissingPasswd)
	}
	user, domain := a.split(p.Login)
	if user == "" || domain == "" {
		return nil, authFailure(verto.MsgBadCredentials)
	}
	if a.Users == nil {
		if a.BlindReg {
			return blindIdentity(user, domain, p), nil
		}
		return nil, authFailure(verto.MsgAuthFailure)
	}
	u, err := a.Users.LookupUser(ctx, UserQuery{ID: user, Domain: domain, Password: p.Passwd, LoginParams: directoryParams(p)})
	switch {
	case errors.Is(err, ErrUnknownUser) && a.BlindReg:
		return blindIdentity(user, domain, p), nil
	case errors.Is(err, ErrUnknownUser), errors.Is(err, ErrBadPassword):
		return nil, authFailure(verto.MsgAuthFailure)
	case err != nil:
		return nil, a.unavailable(err)
	}
	id := identityOf(u, user, domain, p)
	id.Via = "password"
	if at, ok := u.LoginExpires(a.now()); ok {
		id.Expires = at
	}
	return id, nil
}

// unavailable is the failure of a login the directory could not decide.
func (a *Auth) unavailable(err error) *verto.Error {
	if a.Log != nil && (a.warned == nil || a.warned.now(time.Now())) {
		a.Log.Warn("login: user lookup failed; logged once in 10 s", "err", err)
	}
	return authFailure(verto.MsgDirectoryUnavailable)
}

// identity builds the identity of a token login: from the directory when
// the user is there, else from the login name alone. A directory that
// cannot be asked refuses the login: the token alone would lift the
// user's restrictions.
func (a *Auth) identity(ctx context.Context, login string, p *verto.LoginParams, via string) (*Identity, *verto.Error) {
	user, domain := a.split(login)
	if user == "" || domain == "" {
		return nil, authFailure(verto.MsgAuthFailure)
	}
	if a.Users != nil {
		u, err := a.Users.LookupUser(ctx, UserQuery{ID: user, Domain: domain, LoginParams: directoryParams(p)})
		switch {
		case err == nil:
			id := identityOf(u, user, domain, p)
			id.Via = via
			return id, nil
		case !errors.Is(err, ErrUnknownUser):
			return nil, a.unavailable(err)
		}
	}
	id := blindIdentity(user, domain, p)
	id.Via = via
	return id, nil
}

// split derives the user and domain of a login as mod_verto does: the
// part before the first @ and the rest (chop-domain), the default domain
// without an @, and force-register-domain over all.
func (a *Auth) split(login string) (user, domain string) {
	return splitLogin(login, a.DefaultDomain, a.ForceRegisterDomain)
}

func splitLogin(login, defaultDomain, forceDomain string) (user, domain string) {
	user, domain, ok := strings.Cut(login, "@")
	if !ok {
		domain = defaultDomain
	}
	if forceDomain != "" {
		domain = forceDomain
	}
	return user, domain
}

// directoryKey is the key of the user a login names as the directory finds it
// (split's user and domain, case folded: the directory matches both
// without case): the key failed logins of a user count under, whatever the
// spelling of the login.
func directoryKey(login, defaultDomain, forceDomain string) string {
	user, domain := splitLogin(login, defaultDomain, forceDomain)
	return strings.ToLower(user + "@" + domain)
}

// directoryParams are the client's loginParams as mod_verto adds them to
// the directory request: strings as they are, booleans as "true"/"false",
// nothing else; XCtrl's tokens stay here.
func directoryParams(p *verto.LoginParams) map[string]string {
	var out map[string]string
	for k, v := range p.LoginParams {
		if k == "" || k == ParamXCCToken || k == ParamXUISessid {
			continue
		}
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case bool:
			s = "false"
			if v {
				s = "true"
			}
		}
		if s == "" {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = s
	}
	return out
}

// blindIdentity is a login without directory data: mod_verto's blind-reg,
// or a token for a user the directory does not know.
func blindIdentity(user, domain string, p *verto.LoginParams) *Identity {
	return &Identity{
		User: verto.User{Login: user + "@" + domain, ID: user, Domain: domain, CallerIDNumber: user,
			UserVariables: p.UserVariables},
		Via: "blind-reg",
	}
}

// identityOf is the identity of a login as user@domain (the names the
// login gave, as mod_verto keeps them) that found u in the directory.
func identityOf(u *conf.User, user, domain string, p *verto.LoginParams) *Identity {
	id := &Identity{
		User: verto.User{
			Login:          user + "@" + domain,
			ID:             user,
			Domain:         domain,
			Context:        u.Context(),
			Dialplan:       u.Dialplan(),
			CallerIDName:   u.CallerIDName(),
			CallerIDNumber: u.CallerIDNumber(),
			UserVariables:  p.UserVariables,
		},
		AllowedMethods:       u.AllowedMethods(),
		AllowedEventChannels: u.AllowedEventChannels(),
		AllowedJSAPI:         u.AllowedJSAPI(),
		AllowedFSAPI:         u.AllowedFSAPI(),
		Moderator:            isTrue(u.Variable("moderator")),
		StereoAudio:          isTrue(u.Variable("stereo_audio")),
		Superuser:            isTrue(u.Variable("superuser")),
	}
	if id.User.CallerIDNumber == "" {
		id.User.CallerIDNumber = user
	}
	if len(u.Variables) > 0 {
		id.User.Variables = maps.Clone(u.Variables)
	}
	return id
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

func authFailure(msg string) *verto.Error {
	return &verto.Error{Code: verto.CodeAuthFailed, Message: msg}
}
