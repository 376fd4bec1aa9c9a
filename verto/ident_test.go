package verto

import (
	"errors"
	"strings"
	"testing"
)

func TestIdentChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(string) error
		in    string
		ok    bool
	}{
		{"sessid uuid", CheckSessid, "6d1f3c2a-8b7e-4c1d-9f00-1234567890ab", true},
		{"sessid dots", CheckSessid, strings.Repeat(".", 1400), false},
		{"sessid max", CheckSessid, strings.Repeat("a", MaxSessidLen), true},
		{"sessid newline", CheckSessid, "a\nb", false},
		{"sessid empty", CheckSessid, "", false},
		{"callID", CheckCallID, "8a5f0b5e-1111-4222-8333-444455556666", true},
		{"callID long", CheckCallID, strings.Repeat("c", MaxCallIDLen+1), false},
		{"login", CheckLogin, "1000@xswitch.cn", true},
		{"login no domain", CheckLogin, "1000", true},
		{"login empty domain", CheckLogin, "1000@", false},
		{"login empty user", CheckLogin, "@xswitch.cn", false},
		{"login long user", CheckLogin, strings.Repeat("u", MaxUserLen+1) + "@d", false},
		{"login long domain", CheckLogin, "u@" + strings.Repeat("d", MaxDomainLen+1), false},
		{"login space", CheckLogin, "a b@d", false},
		{"node uuid", func(s string) error { return CheckToken("node_uuid", s) }, "fs1-7a2b", true},
		{"node uuid dot", func(s string) error { return CheckToken("node_uuid", s) }, "a.b", false},
		{"node uuid wildcard", func(s string) error { return CheckToken("node_uuid", s) }, "*", false},
		{"node uuid long", func(s string) error { return CheckToken("node_uuid", s) }, strings.Repeat("n", MaxUUIDLen+1), false},
		{"subject", CheckSubject, "cn.xswitch.ctrl.rtc", true},
		{"subject empty token", CheckSubject, "cn..ctrl", false},
		{"subject trailing dot", CheckSubject, "cn.ctrl.", false},
		{"subject wildcard", CheckSubject, "cn.>", false},
		{"subject space", CheckSubject, "cn. x", false},
		{"subject long", CheckSubject, strings.Repeat("s", MaxSubjectLen+1), false},
		{"ctrl ref uuid", CheckCtrlRef, "c1", true},
		{"ctrl ref subject", CheckCtrlRef, "cn.xswitch.ctrl.c1", true},
		{"ctrl ref bad subject", CheckCtrlRef, "cn.xswitch..c1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("%q: err %v, want ok=%v", tc.in[:min(len(tc.in), 40)], err, tc.ok)
			}
			if err != nil {
				var ie *IdentError
				if !errors.Is(err, ErrBadIdent) || !errors.As(err, &ie) || ie.RPC().Code != CodeInvalidParams {
					t.Errorf("error %v is not an IdentError", err)
				}
			}
		})
	}
}

// FuzzCheckSubject: whatever CheckSubject accepts is a subject NATS takes
// (no empty token, no wildcard, no whitespace, within the bound).
func FuzzCheckSubject(f *testing.F) {
	for _, s := range []string{"cn.xswitch.ctrl.rtc", "a..b", ".", "a.>", "x y", strings.Repeat("a.", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckSubject(s) != nil {
			return
		}
		if len(s) > MaxSubjectLen || strings.Contains(s, "..") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") ||
			strings.ContainsAny(s, " \t\r\n*>") {
			t.Fatalf("accepted %q", s)
		}
	})
}
