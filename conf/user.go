package conf

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Directory user params read by the helpers below (mod_verto's names).
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
	ParamLoginExpires          = "login-expires"
	VarUserContext             = "user_context"
	VarEffectiveCallerIDName   = "effective_caller_id_name"
	VarEffectiveCallerIDNumber = "effective_caller_id_number"
)

// A1Hash returns the a1-hash of a directory user: md5 hex of
// "user:domain:password".
func A1Hash(user, domain, password string) string {
	sum := md5.Sum([]byte(user + ":" + domain + ":" + password))
	return hex.EncodeToString(sum[:])
}

// Login is "id@domain".
func (u *User) Login() string { return u.ID + "@" + u.Domain }

// Param returns a param in force (name matched case-insensitively), "" if unset.
func (u *User) Param(name string) string { return u.Params[strings.ToLower(name)] }

// Variable returns a variable in force, "" if unset.
func (u *User) Variable(name string) string { return u.Variables[name] }

// CheckPassword compares pw, in constant time, with the user's
// jsonrpc-password, else password, else a1-hash (md5 of "id:domain:pw"). A
// user with none of them never matches.
func (u *User) CheckPassword(pw string) bool {
	for _, name := range []string{ParamJSONRPCPassword, ParamPassword} {
		if want, ok := u.Params[name]; ok && want != "" {
			return subtle.ConstantTimeCompare([]byte(pw), []byte(want)) == 1
		}
	}
	if want := strings.ToLower(strings.TrimSpace(u.Params[ParamA1Hash])); want != "" {
		got := A1Hash(u.ID, u.Domain, pw)
		return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
	}
	return false
}

// AllowedMethods returns jsonrpc-allowed-methods split at commas or spaces;
// nil means every method is allowed.
func (u *User) AllowedMethods() []string { return u.list(ParamAllowedMethods) }

// AllowedJSAPI returns jsonrpc-allowed-jsapi; nil means unrestricted by the
// directory (XCtrl disables jsapi by default anyway).
func (u *User) AllowedJSAPI() []string { return u.list(ParamAllowedJSAPI) }

// AllowedFSAPI returns jsonrpc-allowed-fsapi; nil as for AllowedJSAPI.
func (u *User) AllowedFSAPI() []string { return u.list(ParamAllowedFSAPI) }

// AllowedEventChannels returns jsonrpc-allowed-event-channels; nil means any
// channel may be subscribed.
func (u *User) AllowedEventChannels() []string { return u.list(ParamAllowedEventChannels) }

// MethodAllowed reports whether the user may call a JSON-RPC method: "login"
// always; otherwise when jsonrpc-allowed-methods is unset, or lists the
// method or its prefix before the first dot ("verto" allows "verto.invite").
func (u *User) MethodAllowed(method string) bool {
	return method == "login" || allowed(u.AllowedMethods(), method)
}

// EventChannelAllowed reports whether the user may subscribe to a channel:
// when jsonrpc-allowed-event-channels is unset, or lists the channel or its
// prefix before the first dot ("conference" allows "conference.3000").
func (u *User) EventChannelAllowed(channel string) bool {
	return allowed(u.AllowedEventChannels(), channel)
}

// Context is the dialplan context for the user's calls: verto-context, else
// the user_context variable, else "" (the profile's).
func (u *User) Context() string {
	if v := u.Param(ParamVertoContext); v != "" {
		return v
	}
	return u.Variables[VarUserContext]
}

// Dialplan is verto-dialplan, or "" for the profile's.
func (u *User) Dialplan() string { return u.Param(ParamVertoDialplan) }

// CallerIDName is caller-id-name, else effective_caller_id_name, else "".
func (u *User) CallerIDName() string {
	return firstNonEmpty(u.Param(ParamCallerIDName), u.Variables[VarEffectiveCallerIDName])
}

// CallerIDNumber is caller-id-number, else effective_caller_id_number, else "".
func (u *User) CallerIDNumber() string {
	return firstNonEmpty(u.Param(ParamCallerIDNumber), u.Variables[VarEffectiveCallerIDNumber])
}

// LoginExpires is login-expires (a param, else a variable): how long after
// login the session's authentication lasts. ok is false when unset or not a
// positive number of seconds.
func (u *User) LoginExpires() (d time.Duration, ok bool) {
	v := firstNonEmpty(u.Param(ParamLoginExpires), u.Variables[ParamLoginExpires])
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func (u *User) list(param string) []string {
	v, ok := u.Params[param]
	if !ok {
		return nil
	}
	return append([]string{}, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || isSpace(r) })...)
}

// allowed: nil list = all; else the name or its first dot-separated part.
func allowed(list []string, name string) bool {
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

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
