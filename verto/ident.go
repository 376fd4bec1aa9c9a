package verto

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Bounds of the identifiers that cross the edge (a WebSocket, a NATS peer,
// a dial string). Each of them ends up in a NATS subject somewhere: a
// registry key, a JetStream consumer filter, a node or ctrl subject. NATS
// refuses a control line over 4,096 bytes by closing the connection, so one
// over-long identifier would take a component off the bus: they are checked
// where they enter, and what goes on the bus stays far below that line even
// after escaping (at most three bytes per byte).
const (
	MaxSessidLen  = 256 // verto.js sends a 36-byte UUID
	MaxCallIDLen  = 256 // verto.js sends a 36-byte UUID
	MaxUserLen    = 128 // the user part of user@domain
	MaxDomainLen  = 253 // a DNS name
	MaxLoginLen   = MaxUserLen + 1 + MaxDomainLen
	MaxUUIDLen    = 128 // node_uuid, ctrl_uuid: one subject token
	MaxSubjectLen = 512 // a subject we publish to
	MaxChannelLen = 512 // an event channel name
	MaxDestLen    = 256 // a destination_number
	// MaxDTMFLen bounds a verto.info's dtmf (digits, with durations
	// "1@200" and pauses): FreeSWITCH logs a line for each digit a
	// channel receives. verto.js sends one digit at a time.
	MaxDTMFLen = 256
	// MaxUserVariables bounds a client's userVariables, its login's and
	// each call's (dialogParams): each becomes a channel variable, and
	// FreeSWITCH sets one in time that grows with those the channel
	// has. A call's own (invite and verto.info together) are bounded
	// alike.
	MaxUserVariables = 100
	// MaxUserVariablesBytes bounds what a call's userVariables hold, names
	// and values as they are set on the channel: the count alone let one
	// client put 100 values of a frame's size, 25 MiB, on each of its
	// calls, and FreeSWITCH copies every channel variable into each of the
	// channel's events. The login's are bounded by the login frame.
	MaxUserVariablesBytes = 16 << 10
	// MaxPartyLen bounds each name and number of a call's parties a
	// client gives (CallerKeys, and an answer's callee_id_name and
	// callee_id_number): they become the channel's caller profile and go
	// on to the call's other legs, into a SIP From header among them.
	// verto.js sends a few dozen bytes.
	MaxPartyLen = 256
	// MaxChatHeaders bounds the from_* and to_* members of a client's chat
	// message (verto.info msg): each goes along as a header of the
	// switch's MESSAGE event, and on to wherever its chat plan sends the
	// message. verto.js sends none.
	MaxChatHeaders = 16
)

// CallerKeys are the dialogParams members of a client's verto.invite that
// name its call's parties (the caller profile). verto.js repeats its
// dialogParams in every message of a call, those of a call FreeSWITCH
// placed to it too: only the invite's are the client's own and read.
var CallerKeys = []string{
	"caller_id_name", "caller_id_number", "remote_caller_id_name", "remote_caller_id_number", "ani", "aniii", "rdnis",
}

// CheckParty checks a party's name or number: at most MaxPartyLen bytes, no
// control characters (a line break in a caller's name would end a SIP
// header, and split a line of FreeSWITCH's log). Empty is absent, and
// allowed.
func CheckParty(what, s string) error {
	if s == "" {
		return nil
	}
	return CheckText(what, s, MaxPartyLen)
}

// CheckCaller checks the parties a client's verto.invite names (CallerKeys).
func (dp *DialogParams) CheckCaller() error {
	for _, c := range [...][2]string{
		{"caller_id_name", dp.CallerIDName}, {"caller_id_number", dp.CallerIDNumber},
		{"remote_caller_id_name", dp.RemoteCallerIDName}, {"remote_caller_id_number", dp.RemoteCallerIDNumber},
		{"ani", dp.ANI}, {"aniii", dp.ANIII}, {"rdnis", dp.RDNIS},
	} {
		if err := CheckParty(c[0], c[1]); err != nil {
			return err
		}
	}
	return nil
}

// CheckChat checks a client's chat message (verto.info msg), which the
// switch's chat plan may send on to another protocol, a SIP MESSAGE among
// them: its to is an address, and each of its from_* and to_* members a
// party (CheckParty), at most MaxChatHeaders of them. The body is free
// text, line breaks its own, but holds no variable reference (VarRef): a
// chat plan may put ${body} in an application's data (the stock one's
// reply does), and FreeSWITCH expands it again, API calls included.
func CheckChat(msg *Object) error {
	if err := CheckParty("msg.to", msg.String("to")); err != nil {
		return err
	}
	if i := VarRef(msg.String("body")); i >= 0 {
		return identErr("msg.body", "a variable reference (${) at byte %d", i)
	}
	n := 0
	for _, k := range msg.Keys() {
		if !IsChatHeader(k) {
			continue
		}
		if n++; n > MaxChatHeaders {
			return identErr("msg", "more than %d from_* and to_* members", MaxChatHeaders)
		}
		if err := CheckParty("msg."+k, msg.String(k)); err != nil {
			return err
		}
	}
	return nil
}

// IsChatHeader says whether a member of a chat message goes along as a
// header of the switch's MESSAGE event: from_* and to_*, of any case
// (mod_verto's verto__info_func).
func IsChatHeader(k string) bool {
	return len(k) >= 3 && strings.EqualFold(k[:3], "to_") || len(k) >= 5 && strings.EqualFold(k[:5], "from_")
}

// CheckUserVariablesBytes checks what a call's userVariables hold, names
// and values (MaxUserVariablesBytes).
func CheckUserVariablesBytes(n int) error {
	if n > MaxUserVariablesBytes {
		return identErr("userVariables", "more than %d bytes", MaxUserVariablesBytes)
	}
	return nil
}

// CheckUserVariables checks the number of a client's userVariables.
func CheckUserVariables(n int) error {
	if n > MaxUserVariables {
		return identErr("userVariables", "more than %d", MaxUserVariables)
	}
	return nil
}

// ErrBadIdent is wrapped by every identifier check failure.
var ErrBadIdent = errors.New("invalid identifier")

// IdentError says which identifier is bad and why.
type IdentError struct {
	What   string // "sessid", "callID", "login", "node_uuid", ...
	Reason string
}

func (e *IdentError) Error() string { return e.What + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrBadIdent) hold.
func (e *IdentError) Unwrap() error { return ErrBadIdent }

// RPC is the JSON-RPC error a client gets for it: -32602 Invalid params.
func (e *IdentError) RPC() *Error {
	return &Error{Code: CodeInvalidParams, Message: "Invalid params: " + e.Error()}
}

// IdentRPC is the JSON-RPC error for a failed check: -32602 Invalid
// params: <what>: <why>.
func IdentRPC(err error) *Error {
	var ie *IdentError
	if errors.As(err, &ie) {
		return ie.RPC()
	}
	return &Error{Code: CodeInvalidParams, Message: "Invalid params: " + err.Error()}
}

func identErr(what, format string, args ...any) error {
	return &IdentError{What: what, Reason: fmt.Sprintf(format, args...)}
}

// CheckText checks a free-form identifier: 1..max bytes, no control
// characters, no variable reference (VarRef).
func CheckText(what, s string, max int) error {
	if s == "" {
		return identErr(what, "empty")
	}
	if len(s) > max {
		return identErr(what, "longer than %d bytes", max)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return identErr(what, "control character at byte %d", i)
		}
	}
	if i := VarRef(s); i >= 0 {
		return identErr(what, "a variable reference (${) at byte %d", i)
	}
	return nil
}

// VarRef returns where s holds a FreeSWITCH variable reference, a '$'
// followed by '{' (backslashes between them too), or -1. FreeSWITCH
// expands ${...} in an application's data when it runs it, and expands a
// variable's value again, API calls included (api-expansion is on in the
// stock switch.conf.xml): a client's transfer destination of
// ${system(touch F)} made F on the switch's host through the stock
// dialplan's ${destination_number}. No identifier a client sends needs
// one. (FreeSWITCH's own check, switch_string_var_check_const, reads the
// same.)
func VarRef(s string) int {
	dol := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '$':
			dol = i
		case dol < 0:
		case c == '{':
			return dol
		case c != '\\':
			dol = -1
		}
	}
	return -1
}

// FindVarRef returns the path ("data.value[0]") of the first string of a
// JSON value, a member's name or a string value, that holds a variable
// reference (VarRef), or "" when none does (or raw is not JSON). The
// top-level members named in skip are not read.
func FindVarRef(raw []byte, skip ...string) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range skip {
			delete(m, k)
		}
	}
	return findVarRef(v, "")
}

func findVarRef(v any, path string) string {
	switch v := v.(type) {
	case string:
		if VarRef(v) >= 0 {
			return cmp.Or(path, "value")
		}
	case []any:
		for i, e := range v {
			if p := findVarRef(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		for _, k := range keys {
			kp := k
			if path != "" {
				kp = path + "." + k
			}
			if VarRef(k) >= 0 {
				return kp
			}
			if p := findVarRef(v[k], kp); p != "" {
				return p
			}
		}
	}
	return ""
}

// CheckDest checks a destination a client dials or transfers to (what
// names the field): MaxDestLen, as CheckText.
func CheckDest(what, s string) error { return CheckText(what, s, MaxDestLen) }

// CheckSessid checks a socket's session id.
func CheckSessid(s string) error { return CheckText("sessid", s, MaxSessidLen) }

// CheckCallID checks a call's id.
func CheckCallID(s string) error { return CheckText("callID", s, MaxCallIDLen) }

// CheckDTMF checks a verto.info's dtmf (MaxDTMFLen, no control characters).
func CheckDTMF(s string) error { return CheckText("dtmf", s, MaxDTMFLen) }

// CheckChannel checks an event channel name.
func CheckChannel(s string) error { return CheckText("eventChannel", s, MaxChannelLen) }

// CheckLogin checks a login ("user" or "user@domain"): the user part at
// most MaxUserLen bytes, the domain at most MaxDomainLen, neither with
// control characters or spaces.
func CheckLogin(s string) error {
	if err := CheckText("login", s, MaxLoginLen); err != nil {
		return err
	}
	user, domain := s, ""
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		user, domain = s[:i], s[i+1:]
		if domain == "" {
			return identErr("login", "empty domain")
		}
	}
	if user == "" {
		return identErr("login", "empty user")
	}
	if len(user) > MaxUserLen {
		return identErr("login", "user longer than %d bytes", MaxUserLen)
	}
	if len(domain) > MaxDomainLen {
		return identErr("login", "domain longer than %d bytes", MaxDomainLen)
	}
	if strings.ContainsAny(s, " \t") {
		return identErr("login", "contains a space")
	}
	return nil
}

// CheckToken checks an id used as one NATS subject token (node_uuid,
// ctrl_uuid): 1..MaxUUIDLen printable ASCII bytes without '.', '*', '>' or
// space.
func CheckToken(what, s string) error {
	if s == "" {
		return identErr(what, "empty")
	}
	if len(s) > MaxUUIDLen {
		return identErr(what, "longer than %d bytes", MaxUUIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return identErr(what, "byte %q at %d is not allowed in a subject token", c, i)
		}
	}
	return nil
}

// CheckSubject checks a subject to publish to: at most MaxSubjectLen
// bytes, dot-separated non-empty tokens of printable ASCII without
// wildcards or spaces.
func CheckSubject(s string) error {
	if s == "" {
		return identErr("subject", "empty")
	}
	if len(s) > MaxSubjectLen {
		return identErr("subject", "longer than %d bytes", MaxSubjectLen)
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if i == start {
				return identErr("subject", "empty token at byte %d", i)
			}
			start = i + 1
			continue
		}
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '*' || c == '>' {
			return identErr("subject", "byte %q at %d is not allowed", c, i)
		}
	}
	return nil
}

// CheckCtrlRef checks what may name a controller: a ctrl_uuid (one token)
// or a full subject under the prefix (Subjects.Ctrl passes those through).
func CheckCtrlRef(s string) error {
	if strings.Contains(s, ".") {
		return CheckSubject(s)
	}
	return CheckToken("ctrl_uuid", s)
}
