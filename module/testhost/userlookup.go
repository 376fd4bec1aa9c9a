package testhost

import (
	"context"
	"strings"

	"xccrtc/conf"
	"xccrtc/module/xrtc"
)

// UserDirectory is where the test host looks users up for XCtrl
// (xrtc.lookupUser): a *conf.Directory, which finds users as FreeSWITCH
// does, or Users.
type UserDirectory interface {
	Lookup(id, domain string) (*conf.User, bool)
}

// Users is a UserDirectory in memory, keyed "id@domain" with both lower-cased.
type Users map[string]*conf.User

// Lookup finds id@domain (case-insensitively).
func (m Users) Lookup(id, domain string) (*conf.User, bool) {
	u, ok := m[strings.ToLower(id+"@"+domain)]
	return u, ok
}

// Add stores a user with a password, further params (name, value, ...) and
// no variables; it returns the user for more changes.
func (m Users) Add(id, domain, password string, params ...string) *conf.User {
	u := &conf.User{ID: id, Domain: domain, Variables: map[string]string{},
		Params: []conf.Pair{{Name: conf.ParamPassword, Value: password}}}
	for i := 0; i+1 < len(params); i += 2 {
		u.Params = append(u.Params, conf.Pair{Name: params[i], Value: params[i+1]})
	}
	m[strings.ToLower(id+"@"+domain)] = u
	return u
}

var _ xrtc.UserLookup = (*Host)(nil)

// LookupUser implements xrtc.UserLookup from HostOptions.Directory; without
// one the host knows no user.
func (h *Host) LookupUser(ctx context.Context, q xrtc.UserQuery) (*conf.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.opts.Directory == nil {
		return nil, nil
	}
	u, ok := h.opts.Directory.Lookup(q.ID, q.Domain)
	if !ok {
		return nil, nil
	}
	return u, nil
}
