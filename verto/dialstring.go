package verto

import (
	"errors"
	"fmt"
	"strings"
)

// Endpoint is the FreeSWITCH endpoint name of xrtc dial strings.
const Endpoint = "xrtc"

// DefaultProfile is the profile of a dial string that names none.
const DefaultProfile = "default"

// KV is one variable or parameter of a dial string, in the order written.
type KV struct {
	Key, Value string
}

// DialString is a parsed xrtc dial string (PROTOCOL.md section 7):
//
//	[{var=value,...}]xrtc/[profile/]user[@domain][;key=value...]
//	[{var=value,...}]xrtc/[profile/]u:<sessid>[;key=value...]
//
// The first form calls a user: XCtrl rings every socket of that user as one
// leg. The second calls one client socket, whoever is logged in on it
// (mod_verto's verto.rtc/u:<sessid>, what the xrtc_contact API returns, one
// FreeSWITCH leg per device).
type DialString struct {
	Vars    []KV   // {a=b,...}: channel variables for this originate
	Profile string // as written; "" when absent (see ProfileName)
	User    string
	Domain  string // "" when absent: the profile's or the switch's domain applies
	// Sessid is the socket of the per-socket form u:<sessid>; User and
	// Domain are then empty.
	Sessid string
	Params []KV // ;k=v endpoint parameters
}

// SocketPrefix starts the per-socket form of a dial string's target:
// xrtc/u:<sessid>.
const SocketPrefix = "u:"

// DialError says what is wrong with a dial string and where (a byte offset
// into Input).
type DialError struct {
	Input string
	Pos   int
	Msg   string
}

func (e *DialError) Error() string {
	return fmt.Sprintf("dial string %q: at offset %d: %s", e.Input, e.Pos, e.Msg)
}

// Resolution errors.
var (
	// ErrUnknownProfile: the dial string names a profile that is not configured.
	ErrUnknownProfile = errors.New("unknown profile")
	// ErrNoDomain: the dial string has no domain and none can be supplied.
	ErrNoDomain = errors.New("no domain")
)

// ParseDialString parses a whole dial string, variables and endpoint prefix
// included. Surrounding white space is ignored.
func ParseDialString(s string) (*DialString, error) {
	p := &dialParser{in: s}
	p.i = len(s) - len(strings.TrimLeft(s, " \t"))
	end := len(strings.TrimRight(s, " \t"))
	if p.i >= end {
		return nil, p.fail(p.i, "empty dial string")
	}
	d := &DialString{}
	if s[p.i] == '{' {
		vars, err := p.vars(end)
		if err != nil {
			return nil, err
		}
		d.Vars = vars
	}
	if !strings.HasPrefix(s[p.i:end], Endpoint+"/") {
		return nil, p.fail(p.i, `expected "xrtc/"`)
	}
	p.i += len(Endpoint) + 1
	if err := p.target(d, end); err != nil {
		return nil, err
	}
	return d, nil
}

// ParseTarget parses what follows "xrtc/" in a dial string, as an endpoint
// receives it from FreeSWITCH: [profile/]user[@domain][;k=v...]. Channel
// variables come to the endpoint separately.
func ParseTarget(s string) (*DialString, error) {
	p := &dialParser{in: s}
	d := &DialString{}
	if err := p.target(d, len(s)); err != nil {
		return nil, err
	}
	return d, nil
}

type dialParser struct {
	in string
	i  int
}

func (p *dialParser) fail(pos int, format string, args ...any) *DialError {
	return &DialError{Input: p.in, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// vars reads {k=v,k='v,with,commas',k=v\,escaped}.
func (p *dialParser) vars(end int) ([]KV, error) {
	open := p.i
	p.i++ // '{'
	var out []KV
	for {
		if p.i >= end {
			return nil, p.fail(open, "unterminated '{'")
		}
		if p.in[p.i] == '}' {
			if len(out) == 0 {
				return nil, p.fail(p.i, "empty variable list")
			}
			p.i++
			return out, nil
		}
		start := p.i
		for p.i < end && p.in[p.i] != '=' && p.in[p.i] != ',' && p.in[p.i] != '}' {
			p.i++
		}
		key := strings.TrimSpace(p.in[start:p.i])
		if key == "" {
			return nil, p.fail(start, "variable without a name")
		}
		if strings.ContainsAny(key, " \t'\\{") {
			return nil, p.fail(start, "bad variable name %q", key)
		}
		if p.i >= end || p.in[p.i] != '=' {
			return nil, p.fail(p.i, "variable %q has no '='", key)
		}
		p.i++
		val, err := p.value(end)
		if err != nil {
			return nil, err
		}
		out = append(out, KV{Key: key, Value: val})
		if p.i < end && p.in[p.i] == ',' {
			p.i++
			if p.i < end && p.in[p.i] == '}' {
				return nil, p.fail(p.i, "trailing ',' in variable list")
			}
		}
	}
}

// value reads a variable value up to ',' or '}', honouring 'quotes' and
// backslash escapes.
func (p *dialParser) value(end int) (string, error) {
	var b strings.Builder
	if p.i < end && p.in[p.i] == '\'' {
		open := p.i
		p.i++
		for {
			if p.i >= end {
				return "", p.fail(open, "unterminated quote")
			}
			c := p.in[p.i]
			if c == '\\' && p.i+1 < end {
				b.WriteByte(p.in[p.i+1])
				p.i += 2
				continue
			}
			if c == '\'' {
				p.i++
				break
			}
			b.WriteByte(c)
			p.i++
		}
		if p.i < end && p.in[p.i] != ',' && p.in[p.i] != '}' {
			return "", p.fail(p.i, "unexpected %q after quoted value", p.in[p.i])
		}
		return b.String(), nil
	}
	for p.i < end {
		c := p.in[p.i]
		if c == ',' || c == '}' {
			break
		}
		if c == '\\' {
			if p.i+1 >= end {
				return "", p.fail(p.i, "'\\' at end of input")
			}
			b.WriteByte(p.in[p.i+1])
			p.i += 2
			continue
		}
		if c == '{' || c == '\'' {
			return "", p.fail(p.i, "unexpected %q in variable value (quote the value)", c)
		}
		b.WriteByte(c)
		p.i++
	}
	return b.String(), nil
}

// target reads [profile/]user[@domain][;k=v...] up to end.
func (p *dialParser) target(d *DialString, end int) error {
	rest := p.in[p.i:end]
	base := p.i
	addr := rest
	var params string
	if k := strings.IndexByte(rest, ';'); k >= 0 {
		addr, params = rest[:k], rest[k+1:]
	}
	if k := strings.IndexByte(addr, '/'); k >= 0 && !strings.Contains(addr[:k], "@") {
		d.Profile = addr[:k]
		if d.Profile == "" {
			return p.fail(base, "empty profile name")
		}
		if bad := strings.IndexAny(d.Profile, badTargetChars); bad >= 0 {
			return p.fail(base+bad, "unexpected %q in profile name", d.Profile[bad])
		}
		base += k + 1
		addr = addr[k+1:]
	}
	if addr == "" {
		return p.fail(base, "empty user")
	}
	if sessid, ok := strings.CutPrefix(addr, SocketPrefix); ok {
		if sessid == "" {
			return p.fail(base+len(SocketPrefix), "empty sessid after %q", SocketPrefix)
		}
		if bad := strings.IndexAny(sessid, badTargetChars+"/@"); bad >= 0 {
			return p.fail(base+len(SocketPrefix)+bad, "unexpected %q in sessid", sessid[bad])
		}
		d.Sessid = sessid
		return p.params(d, rest, params, end)
	}
	user, domain, hasAt := strings.Cut(addr, "@")
	if user == "" {
		return p.fail(base, "empty user")
	}
	if bad := strings.IndexAny(user, badTargetChars+"/"); bad >= 0 {
		return p.fail(base+bad, "unexpected %q in user", user[bad])
	}
	if hasAt {
		if domain == "" {
			return p.fail(base+len(user)+1, "empty domain after '@'")
		}
		if bad := strings.IndexAny(domain, badTargetChars+"/@"); bad >= 0 {
			return p.fail(base+len(user)+1+bad, "unexpected %q in domain", domain[bad])
		}
	}
	d.User, d.Domain = user, domain
	return p.params(d, rest, params, end)
}

// params reads the ;k=v parameters of a target (rest is the whole target,
// params what follows its first ';').
func (p *dialParser) params(d *DialString, rest, params string, end int) error {
	if params == "" && strings.HasSuffix(rest, ";") {
		return p.fail(end, "empty parameter after ';'")
	}
	if params != "" {
		pos := p.i + len(rest) - len(params)
		for _, kv := range strings.Split(params, ";") {
			if kv == "" {
				return p.fail(pos, "empty parameter after ';'")
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return p.fail(pos, "parameter %q is not key=value", kv)
			}
			if bad := strings.IndexAny(kv, badTargetChars); bad >= 0 {
				return p.fail(pos+bad, "unexpected %q in parameter", kv[bad])
			}
			d.Params = append(d.Params, KV{Key: k, Value: v})
			pos += len(kv) + 1
		}
	}
	return nil
}

const badTargetChars = " \t\r\n{}[]<>,'\"\\|"

// ProfileName returns the profile, or "default" when none is written.
func (d *DialString) ProfileName() string {
	if d.Profile == "" {
		return DefaultProfile
	}
	return d.Profile
}

// Var returns the last value of variable k.
func (d *DialString) Var(k string) (string, bool) { return lastKV(d.Vars, k) }

// Param returns the last value of parameter k.
func (d *DialString) Param(k string) (string, bool) { return lastKV(d.Params, k) }

func lastKV(kvs []KV, k string) (string, bool) {
	for i := len(kvs) - 1; i >= 0; i-- {
		if kvs[i].Key == k {
			return kvs[i].Value, true
		}
	}
	return "", false
}

// Where CtrlUUID found the controller.
const (
	CtrlFromParam  = "param ctrl_uuid"
	CtrlFromVar    = "variable ctrl_uuid"
	CtrlFromXccVar = "variable xcc_ctrl_uuid"
)

// CtrlUUID returns the controller the call must go to, with the precedence
// ;ctrl_uuid= > {ctrl_uuid=} > {xcc_ctrl_uuid=}; from names where it was
// found ("" when none names one). An empty value counts as absent.
func (d *DialString) CtrlUUID() (uuid, from string) {
	if v, ok := d.Param("ctrl_uuid"); ok && v != "" {
		return v, CtrlFromParam
	}
	if v, ok := d.Var("ctrl_uuid"); ok && v != "" {
		return v, CtrlFromVar
	}
	if v, ok := d.Var("xcc_ctrl_uuid"); ok && v != "" {
		return v, CtrlFromXccVar
	}
	return "", ""
}

// Subject returns the NATS subject of the call's verto.invite: the named
// controller's subject, or else profileSubject.
func (d *DialString) Subject(profileSubject string, s Subjects) string {
	if u, _ := d.CtrlUUID(); u != "" {
		return s.Ctrl(u)
	}
	return profileSubject
}

// Login returns user@domain (or user without a domain); "" for the
// per-socket form.
func (d *DialString) Login() string {
	if d.Sessid != "" {
		return ""
	}
	if d.Domain == "" {
		return d.User
	}
	return d.User + "@" + d.Domain
}

// String formats the dial string so that parsing it again gives the same
// DialString.
func (d *DialString) String() string {
	var b strings.Builder
	if len(d.Vars) > 0 {
		b.WriteByte('{')
		for i, kv := range d.Vars {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(kv.Key)
			b.WriteByte('=')
			b.WriteString(quoteVarValue(kv.Value))
		}
		b.WriteByte('}')
	}
	b.WriteString(Endpoint + "/")
	b.WriteString(d.Target())
	return b.String()
}

// Target formats what follows "xrtc/".
func (d *DialString) Target() string {
	var b strings.Builder
	if d.Profile != "" {
		b.WriteString(d.Profile)
		b.WriteByte('/')
	}
	if d.Sessid != "" {
		b.WriteString(SocketPrefix + d.Sessid)
	} else {
		b.WriteString(d.Login())
	}
	for _, kv := range d.Params {
		b.WriteByte(';')
		b.WriteString(kv.Key)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

func quoteVarValue(v string) string {
	if !strings.ContainsAny(v, ",}'\\{") {
		return v
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		if v[i] == '\'' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// ProfileInfo is what resolving a dial string needs to know of a profile.
type ProfileInfo struct {
	CtrlSubject string // xrtc-ctrl-subject
	Domain      string // force-register-domain, or ""
}

// Route is a resolved dial string: where the verto.invite goes and for whom
// (a user, or with Sessid one client socket).
type Route struct {
	Profile  string `json:"profile"`
	User     string `json:"user,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Login    string `json:"login,omitempty"`
	Sessid   string `json:"sessid,omitempty"`
	CtrlUUID string `json:"ctrl_uuid,omitempty"`
	CtrlFrom string `json:"ctrl_from,omitempty"`
	Subject  string `json:"subject"`
}

// Resolve finds the profile (lookup reports whether it exists), fills in a
// missing domain from the profile or defaultDomain, and picks the subject.
func (d *DialString) Resolve(lookup func(name string) (ProfileInfo, bool), s Subjects, defaultDomain string) (*Route, error) {
	name := d.ProfileName()
	prof, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("dial string %q: profile %q: %w", d.String(), name, ErrUnknownProfile)
	}
	r := &Route{Profile: name, User: d.User, Domain: d.Domain}
	subject := prof.CtrlSubject
	if subject == "" {
		subject = s.CtrlRTC()
	}
	if d.Sessid != "" {
		// One socket, whoever holds it: no user, no domain.
		if err := CheckSessid(d.Sessid); err != nil {
			return nil, fmt.Errorf("dial string %q: %w", truncated(d.String()), err)
		}
		r.User, r.Domain, r.Sessid = "", "", d.Sessid
		return r.route(d, subject, s)
	}
	if r.Domain == "" {
		r.Domain = prof.Domain
	}
	if r.Domain == "" {
		r.Domain = defaultDomain
	}
	if r.Domain == "" {
		return nil, fmt.Errorf("dial string %q: user %q: %w (write user@domain or set force-register-domain)", d.String(), d.User, ErrNoDomain)
	}
	r.Login = r.User + "@" + r.Domain
	// The login travels to XCtrl and becomes a registry key there; the
	// controller becomes a subject here: bound both.
	if err := CheckLogin(r.Login); err != nil {
		return nil, fmt.Errorf("dial string %q: %w", truncated(d.String()), err)
	}
	return r.route(d, subject, s)
}

// route fills in the controller and the subject of the invite.
func (r *Route) route(d *DialString, profileSubject string, s Subjects) (*Route, error) {
	r.CtrlUUID, r.CtrlFrom = d.CtrlUUID()
	if r.CtrlUUID != "" {
		if err := CheckCtrlRef(r.CtrlUUID); err != nil {
			return nil, fmt.Errorf("dial string %q: %s: %w", truncated(d.String()), r.CtrlFrom, err)
		}
	}
	r.Subject = d.Subject(profileSubject, s)
	if err := CheckSubject(r.Subject); err != nil {
		return nil, fmt.Errorf("dial string %q: %w", truncated(d.String()), err)
	}
	return r, nil
}

// truncated bounds a dial string quoted in an error.
func truncated(s string) string {
	if len(s) <= 120 {
		return s
	}
	return s[:120] + "..."
}
