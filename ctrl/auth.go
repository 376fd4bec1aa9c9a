package ctrl

import (
	"context"
	"strings"
	"time"

	"xccrtc/conf"
	"xccrtc/verto"
)

// Identity is who a socket logged in as, with what the directory lets it do.
type Identity struct {
	User verto.User // asserted to nodes as params.xrtc_user

	AllowedMethods       []string // nil: all
	AllowedEventChannels []string // nil: all
	AllowedJSAPI         []string // nil: all (when jsapi is enabled)
	AllowedFSAPI         []string // nil: all (when fsapi is enabled)

	Expires     time.Time // zero: never; the socket is closed when it passes
	Moderator   bool
	StereoAudio bool
	Superuser   bool
	Via         string // "password", "xcc_token" or "xui_sessid"
}

// MethodAllowed: login always; else jsonrpc-allowed-methods unset, or listing
// the method or its prefix before the first dot.
func (id *Identity) MethodAllowed(method string) bool {
	return method == verto.MethodLogin || listAllows(id.AllowedMethods, method)
}

// EventChannelAllowed: jsonrpc-allowed-event-channels unset, or listing the
// channel or its prefix before the first dot.
func (id *Identity) EventChannelAllowed(ch string) bool {
	return listAllows(id.AllowedEventChannels, ch)
}

// Display is what XCtrl stamps as fromDisplay: caller-id-name, else the
// user id.
func (id *Identity) Display() string {
	if id.User.CallerIDName != "" {
		return id.User.CallerIDName
	}
	return id.User.ID
}

func listAllows(list []string, name string) bool {
	if list == nil {
		return true
	}
	prefix, _, _ := strings.Cut(name, ".")
	for _, a := range list {
		if a == name || a == prefix {
			return true
		}
	}
	return false
}

// Authenticator checks a login request. A failure is the *verto.Error to
// send back (-32000 for a login without credentials, -32001 otherwise).
type Authenticator interface {
	Authenticate(ctx context.Context, p *verto.LoginParams) (*Identity, *verto.Error)
}

// UserStore is the directory as login needs it.
type UserStore interface {
	User(id, domain string) (*conf.User, bool)
}

// DirectoryStore is a UserStore on a loaded FreeSWITCH directory.
type DirectoryStore struct{ Dir *conf.Directory }

// User looks id up (by id or number-alias) in domain.
func (d DirectoryStore) User(id, domain string) (*conf.User, bool) {
	if d.Dir == nil {
		return nil, false
	}
	return d.Dir.Lookup(id, domain)
}

// MapStore is an in-memory UserStore keyed by "id@domain".
type MapStore map[string]*conf.User

// User returns the entry of id@domain.
func (m MapStore) User(id, domain string) (*conf.User, bool) {
	u, ok := m[id+"@"+strings.ToLower(domain)]
	return u, ok
}

// Add stores a user with a password and optional params.
func (m MapStore) Add(id, domain, password string, params map[string]string) *conf.User {
	u := &conf.User{ID: id, Domain: strings.ToLower(domain), Params: map[string]string{}, Variables: map[string]string{}}
	for k, v := range params {
		u.Params[strings.ToLower(k)] = v
	}
	if password != "" {
		u.Params[conf.ParamPassword] = password
	}
	m[id+"@"+u.Domain] = u
	return u
}

// Auth is the standard Authenticator: loginParams.xcc_token (HS256 JWT),
// then loginParams.xui_sessid (HTTP check), then login/passwd against the
// directory. A token check wins over the password.
type Auth struct {
	Users         UserStore // may be nil: no password logins
	DefaultDomain string
	JWT           *JWTVerifier // nil: xcc_token refused
	XUI           *XUIChecker  // nil: xui_sessid refused
	Now           func() time.Time
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
		id, ok := a.identity(login, p, "xcc_token")
		if !ok {
			return nil, authFailure(verto.MsgAuthFailure)
		}
		id.Expires = c.ExpiresAt()
		return id, nil
	}
	if tok := p.LoginParam(ParamXUISessid); tok != "" {
		if a.XUI == nil {
			return nil, authFailure(verto.MsgAuthFailure)
		}
		r, err := a.XUI.Check(ctx, tok, p.Login, p.Sessid)
		if err != nil {
			return nil, authFailure(verto.MsgAuthFailure)
		}
		login := r.Login
		if login == "" {
			login = p.Login
		}
		id, ok := a.identity(login, p, "xui_sessid")
		if !ok {
			return nil, authFailure(verto.MsgAuthFailure)
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
	if a.Users == nil || user == "" || domain == "" {
		return nil, authFailure(verto.MsgAuthFailure)
	}
	u, ok := a.Users.User(user, domain)
	if !ok || !u.CheckPassword(p.Passwd) {
		return nil, authFailure(verto.MsgAuthFailure)
	}
	id := identityOf(u, p)
	id.Via = "password"
	if d, ok := u.LoginExpires(); ok {
		id.Expires = a.now().Add(d)
	}
	return id, nil
}

// identity builds the identity of a token login: from the directory when
// the user is there, else from the login name alone.
func (a *Auth) identity(login string, p *verto.LoginParams, via string) (*Identity, bool) {
	user, domain := a.split(login)
	if user == "" || domain == "" {
		return nil, false
	}
	if a.Users != nil {
		if u, ok := a.Users.User(user, domain); ok {
			id := identityOf(u, p)
			id.Via = via
			return id, true
		}
	}
	return &Identity{
		User: verto.User{Login: user + "@" + domain, ID: user, Domain: domain, CallerIDNumber: user,
			UserVariables: p.UserVariables},
		Via: via,
	}, true
}

func (a *Auth) split(login string) (user, domain string) {
	i := strings.LastIndexByte(login, '@')
	if i < 0 {
		return login, a.DefaultDomain
	}
	return login[:i], login[i+1:]
}

// identityOf maps a directory user to an identity.
func identityOf(u *conf.User, p *verto.LoginParams) *Identity {
	id := &Identity{
		User: verto.User{
			Login:          u.ID + "@" + u.Domain,
			ID:             u.ID,
			Domain:         u.Domain,
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
		id.User.CallerIDNumber = u.ID
	}
	if len(u.Variables) > 0 {
		id.User.Variables = make(map[string]string, len(u.Variables))
		for k, v := range u.Variables {
			id.User.Variables[k] = v
		}
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
