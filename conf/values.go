package conf

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseValue checks v against the spec and returns the typed value: int64 for
// KindInt, time.Duration for KindMillis and KindSeconds, bool for KindBool,
// []string for KindURLList and KindList, string otherwise. The error wraps
// ErrBadValue.
func parseValue(s ParamSpec, v string) (any, error) {
	if strings.TrimSpace(v) == "" {
		switch {
		case s.Default != "" || s.Repeatable:
			return nil, badValue("empty value")
		case s.Kind == KindList || s.Kind == KindURLList:
			return []string(nil), nil
		default:
			return "", nil
		}
	}
	switch s.Kind {
	case KindInt, KindMillis, KindSeconds:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, badValue("%q is not an integer", v)
		}
		switch {
		case s.Kind == KindInt && s.Max > s.Min && (n < s.Min || n > s.Max):
			return nil, badValue("out of range: %d is not in %d..%d", n, s.Min, s.Max)
		case s.Kind != KindInt && n < 0:
			return nil, badValue("out of range: a timeout cannot be negative (%d)", n)
		case s.Kind == KindMillis && n > int64(time.Duration(1<<62)/time.Millisecond):
			return nil, badValue("out of range: %d ms is too long", n)
		case s.Kind == KindSeconds && n > int64(time.Duration(1<<62)/time.Second):
			return nil, badValue("out of range: %d s is too long", n)
		case s.Kind == KindMillis:
			return time.Duration(n) * time.Millisecond, nil
		case s.Kind == KindSeconds:
			return time.Duration(n) * time.Second, nil
		}
		return n, nil
	case KindBool:
		b, ok := parseBool(v)
		if !ok {
			return nil, badValue("%q is not a boolean (true or false)", v)
		}
		return b, nil
	case KindIP:
		if _, err := netip.ParseAddr(strings.TrimSpace(v)); err != nil {
			return nil, badValue("%q is not an IP address", v)
		}
		return strings.TrimSpace(v), nil
	case KindExtIP:
		return checkExtIP(strings.TrimSpace(v))
	case KindSubject:
		return v, checkSubject(v)
	case KindToken:
		return v, checkToken(v)
	case KindURLList:
		return checkURLs(v)
	case KindList:
		return checkList(v)
	case KindACL:
		if strings.ContainsFunc(v, isSpace) {
			return nil, badValue("%q is not an ACL name (no spaces allowed)", v)
		}
		return v, nil
	case KindJitter:
		if !jitterRE.MatchString(strings.TrimSpace(v)) {
			return nil, badValue("%q is not a jitter buffer spec (LEN[p][:MAX[p][:DRIFT]])", v)
		}
		return strings.TrimSpace(v), nil
	}
	return v, nil
}

var jitterRE = regexp.MustCompile(`^[0-9]+p?(:[0-9]+p?(:[0-9]+)?)?$`)

func badValue(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadValue, fmt.Sprintf(format, args...))
}

// parseBool follows FreeSWITCH's switch_true/switch_false word lists.
func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "t", "yes", "on", "enabled", "active", "allow", "1":
		return true, true
	case "false", "f", "no", "off", "disabled", "inactive", "disallow", "0":
		return false, true
	}
	return false, false
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func checkExtIP(v string) (any, error) {
	if _, err := netip.ParseAddr(v); err == nil {
		return v, nil
	}
	if v == "auto-nat" || v == "auto" {
		return v, nil
	}
	for _, p := range []string{"stun:", "host:", "autonat:"} {
		if rest, ok := strings.CutPrefix(v, p); ok && rest != "" && !strings.ContainsFunc(rest, isSpace) {
			return v, nil
		}
	}
	return nil, badValue("%q is not an IP address, stun:HOST, host:NAME or autonat:IP", v)
}

func checkSubject(v string) error {
	for tok := range strings.SplitSeq(v, ".") {
		if tok == "" {
			return badValue("%q is not a NATS subject (empty token)", v)
		}
		if err := checkToken(tok); err != nil {
			return badValue("%q is not a literal NATS subject (no spaces or wildcards)", v)
		}
	}
	return nil
}

func checkToken(v string) error {
	if strings.ContainsFunc(v, func(r rune) bool { return isSpace(r) || r == '.' || r == '*' || r == '>' }) {
		return badValue("%q is not a NATS subject token (no dots, spaces or wildcards)", v)
	}
	return nil
}

func checkURLs(v string) (any, error) {
	var out []string
	for u := range strings.SplitSeq(v, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			return nil, badValue("%q has an empty URL", v)
		}
		host := u
		if strings.Contains(u, "://") {
			pu, err := url.Parse(u)
			if err != nil {
				return nil, badValue("%q is not a URL", u)
			}
			switch pu.Scheme {
			case "nats", "tls", "ws", "wss":
			default:
				return nil, badValue("%q: scheme must be nats, tls, ws or wss", u)
			}
			host = pu.Host
		}
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsFunc(host, isSpace) {
			return nil, badValue("%q has no host", u)
		}
		out = append(out, u)
	}
	return out, nil
}

func checkList(v string) (any, error) {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" || strings.ContainsFunc(item, isSpace) {
			return nil, badValue("%q is not a comma-separated list of names", v)
		}
		out = append(out, item)
	}
	return out, nil
}
