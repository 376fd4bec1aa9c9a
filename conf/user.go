package conf

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"xccrtc/verto"
)

// Directory user params and variables mod_verto reads (mod_verto.c
// check_auth, check_permissions, the invite and broadcast handlers). The
// accessors below read them as mod_verto does.
const (
	ParamPassword              = "password"
	ParamJSONRPCPassword       = "jsonrpc-password"
	ParamA1Hash                = "a1-hash"
	ParamAllowedMethods        = "jsonrpc-allowed-methods"
	ParamAllowedJSAPI          = "jsonrpc-allowed-jsapi"
	ParamAllowedFSAPI          = "jsonrpc-allowed-fsapi"
	ParamAllowedEventChannels  = "jsonrpc-allowed-event-channels"
	ParamVertoContext          = "verto-context"
	ParamVertoDialplan         = "verto-dialplan"
	ParamCallerIDName          = "caller-id-name"
	ParamCallerIDNumber        = "caller-id-number"
	VarLoginExpires            = "login-expires"
	VarUserContext             = "user_context"
	VarEffectiveCallerIDName   = "effective_caller_id_name"
	VarEffectiveCallerIDNumber = "effective_caller_id_number"

	// AllowAny as a jsonrpc-allowed-* value lifts the restriction.
	AllowAny = "__ANY__"
	// DefaultLoginExpiry is how long a login lasts when its login-expires
	// variable is not a time in the future.
	DefaultLoginExpiry = 300 * time.Second
)

// A1Hash returns the a1-hash of a directory user: md5 hex of
// "user:domain:password".
func A1Hash(user, domain, password string) string {
	sum := md5.Sum([]byte(user + ":" + domain + ":" + password))
	return hex.EncodeToString(sum[:])
}

// Login is "id@domain".
func (u *User) Login() string { return u.ID + "@" + u.Domain }

// Param returns a param's value as mod_verto's jsock->params gives it: the
// first with that name (case-insensitive), "" if none.
func (u *User) Param(name string) string {
	for _, p := range u.Params {
		if strings.EqualFold(p.Name, name) {
			return p.Value
		}
	}
	return ""
}

// lastParam is the value mod_verto keeps when it loops over the params and
// assigns each match: the last one; nonEmpty skips empty values first
// (check_permissions).
func (u *User) lastParam(name string, nonEmpty bool) (string, bool) {
	var v string
	found := false
	for _, p := range u.Params {
		if strings.EqualFold(p.Name, name) && (!nonEmpty || p.Value != "") {
			v, found = p.Value, true
		}
	}
	return v, found
}

// Variable returns a variable (exact name, else case-insensitive as
// FreeSWITCH's event headers match), "" if unset.
func (u *User) Variable(name string) string {
	if v, ok := u.Variables[name]; ok {
		return v
	}
	for k, v := range u.Variables {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// CheckPassword is mod_verto's password gate for a login as
// loginID@loginDomain (the names the client gave, after chop-domain and
// force-register-domain): the params in order, the first "password", any
// later "jsonrpc-password" or "a1-hash" replacing it; with an a1-hash
// anywhere, the md5 of "loginID:loginDomain:pw" is compared instead of pw.
// A user with none of them, or an empty one, never matches. The compare
// takes constant time.
func (u *User) CheckPassword(loginID, loginDomain, pw string) bool {
	return pw != "" && u.CheckA1(loginID, loginDomain, A1Hash(loginID, loginDomain, pw))
}

// CheckA1 is CheckPassword given A1Hash(loginID, loginDomain, pw) instead of
// pw, so that the password itself need not travel (xrtc.lookupUser): a
// stored password is hashed the same way and compared.
func (u *User) CheckA1(loginID, loginDomain, a1 string) bool {
	var want string
	set, isA1 := false, false
	for _, p := range u.Params {
		switch {
		case !set && strings.EqualFold(p.Name, ParamPassword):
			want, set = p.Value, true
		case strings.EqualFold(p.Name, ParamJSONRPCPassword):
			want, set = p.Value, true
		case strings.EqualFold(p.Name, ParamA1Hash):
			want, set, isA1 = p.Value, true, true
		}
	}
	if want == "" || a1 == "" {
		return false
	}
	if !isA1 {
		want = A1Hash(loginID, loginDomain, want)
	}
	return subtle.ConstantTimeCompare([]byte(a1), []byte(want)) == 1
}

// AllowedMethods is jsonrpc-allowed-methods as mod_verto's set_perm reads
// it: the last non-empty value split at commas (at spaces when it holds
// one). nil means every method (the value __ANY__); an empty list, the
// param unset, means none but login, as in mod_verto, whose stock
// directory gives its domain jsonrpc-allowed-methods=verto for that reason.
func (u *User) AllowedMethods() []string { return u.perm(ParamAllowedMethods) }

// AllowedJSAPI is jsonrpc-allowed-jsapi read the same way: unset, no jsapi
// command is allowed.
func (u *User) AllowedJSAPI() []string { return u.perm(ParamAllowedJSAPI) }

// AllowedFSAPI is jsonrpc-allowed-fsapi read the same way: unset, no fsapi
// command is allowed.
func (u *User) AllowedFSAPI() []string { return u.perm(ParamAllowedFSAPI) }

// AllowedEventChannels is jsonrpc-allowed-event-channels read the same
// way: unset, no channel but those the switch grants the socket (a
// conference it joined) may be subscribed.
func (u *User) AllowedEventChannels() []string { return u.perm(ParamAllowedEventChannels) }

// MethodAllowed reports whether the user may call a JSON-RPC method: login
// always; otherwise the method, or its part before the first dot ("verto"
// allows "verto.invite"), is in AllowedMethods, case-insensitively.
func (u *User) MethodAllowed(method string) bool {
	return strings.EqualFold(method, "login") || PermAllows(u.AllowedMethods(), method)
}

// EventChannelAllowed reports whether AllowedEventChannels lets the user
// subscribe to a channel (the name or its part before the first dot).
func (u *User) EventChannelAllowed(channel string) bool {
	return PermAllows(u.AllowedEventChannels(), channel)
}

func (u *User) perm(param string) []string {
	v, _ := u.lastParam(param, true)
	return ParsePerm(v)
}

// ParsePerm splits a jsonrpc-allowed-* value as mod_verto's set_perm does:
// nil for __ANY__ (everything), else the names, split at spaces when the
// value holds one and at commas otherwise; "" gives an empty list
// (nothing).
func ParsePerm(v string) []string {
	if strings.EqualFold(v, AllowAny) {
		return nil
	}
	sep := ","
	if strings.Contains(v, " ") {
		sep = " "
	}
	out := []string{}
	for _, s := range strings.Split(v, sep) {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// PermAllows reports whether a permission list allows name: nil allows
// everything; otherwise name or its part before the first dot must be in
// it (case-insensitive, as mod_verto's event headers match).
func PermAllows(list []string, name string) bool {
	if list == nil {
		return true
	}
	main, _, _ := strings.Cut(name, ".")
	for _, a := range list {
		if strings.EqualFold(a, name) || strings.EqualFold(a, main) {
			return true
		}
	}
	return false
}

// Context is the dialplan context of the user's calls as mod_verto picks
// it: the user_context variable, else the last verto-context param when
// not empty, else "" (the profile's).
func (u *User) Context() string {
	if v := u.Variable(VarUserContext); v != "" {
		return v
	}
	v, _ := u.lastParam(ParamVertoContext, false)
	return v
}

// Dialplan is the last verto-dialplan param when not empty, else "" (the
// profile's).
func (u *User) Dialplan() string {
	v, _ := u.lastParam(ParamVertoDialplan, false)
	return v
}

// CallerIDName is the caller-id-name param (mod_verto's fallback when the
// client's dialog gives none), "" if unset.
func (u *User) CallerIDName() string { return u.Param(ParamCallerIDName) }

// CallerIDNumber is the caller-id-number param, "" if unset.
func (u *User) CallerIDNumber() string { return u.Param(ParamCallerIDNumber) }

// LoginExpires is when the login stops being valid, from the login-expires
// variable as mod_verto reads it: a Unix time; one that is not in the
// future gives now + 5 minutes. ok is false when the variable is unset.
func (u *User) LoginExpires(now time.Time) (at time.Time, ok bool) {
	v, ok := u.Variables[VarLoginExpires]
	if !ok {
		return time.Time{}, false
	}
	if n := atol(v); n > now.Unix() {
		return time.Unix(n, 0), true
	}
	return now.Add(DefaultLoginExpiry), true
}

// atol reads a leading decimal number as C's atol: spaces, a sign, digits;
// anything else ends it.
func atol(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	end := 0
	if end < len(s) && (s[end] == '+' || s[end] == '-') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// secretParam reports whether a param holds a credential: never sent over
// the bus nor cached.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	return n == ParamA1Hash || strings.Contains(n, "password")
}

// WithoutSecrets returns a copy of the user without the params that hold
// credentials (password, jsonrpc-password, a1-hash, vm-password ...).
func (u *User) WithoutSecrets() *User {
	c := *u
	c.Params = nil
	for _, p := range u.Params {
		if !secretParam(p.Name) {
			c.Params = append(c.Params, p)
		}
	}
	return &c
}

// Wire returns the user as it travels on the bus, without its secrets.
func (u *User) Wire() *verto.DirectoryUser {
	s := u.WithoutSecrets()
	return &verto.DirectoryUser{ID: s.ID, NumberAlias: s.NumberAlias, Domain: s.Domain, Group: s.Group,
		Params: s.Params, Variables: s.Variables}
}

// UserFromWire is the user a switch's directory gave (xrtc.lookupUser).
func UserFromWire(d *verto.DirectoryUser) *User {
	u := &User{ID: d.ID, NumberAlias: d.NumberAlias, Domain: d.Domain, Group: d.Group, Params: d.Params, Variables: d.Variables}
	if u.Variables == nil {
		u.Variables = map[string]string{}
	}
	return u
}
