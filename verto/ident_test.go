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

// TestCheckParties: every name and number of a call's parties a client
// gives is bounded (MaxPartyLen, no control characters), in dialogParams
// and an answer's top level alike; absent ones pass.
func TestCheckParties(t *testing.T) {
	long := strings.Repeat("n", MaxPartyLen+1)
	for _, tc := range []struct {
		name string
		p    CallParams
		what string // "": accepted
	}{
		{"none", CallParams{}, ""},
		{"verto.js", CallParams{DialogParams: &DialogParams{CallerIDName: "Alice Liddell", CallerIDNumber: "1000",
			RemoteCallerIDName: "Outbound Call", RemoteCallerIDNumber: "9196"}}, ""},
		{"the longest", CallParams{DialogParams: &DialogParams{CallerIDName: long[1:]}}, ""},
		{"caller name long", CallParams{DialogParams: &DialogParams{CallerIDName: long}}, "caller_id_name"},
		{"caller name CRLF", CallParams{DialogParams: &DialogParams{CallerIDName: "A\r\nX-Evil: 1"}}, "caller_id_name"},
		{"caller number long", CallParams{DialogParams: &DialogParams{CallerIDNumber: long}}, "caller_id_number"},
		{"callee name", CallParams{DialogParams: &DialogParams{CalleeIDName: long}}, "callee_id_name"},
		{"callee number", CallParams{DialogParams: &DialogParams{CalleeIDNumber: "1\n"}}, "callee_id_number"},
		{"remote name", CallParams{DialogParams: &DialogParams{RemoteCallerIDName: long}}, "remote_caller_id_name"},
		{"remote number", CallParams{DialogParams: &DialogParams{RemoteCallerIDNumber: long}}, "remote_caller_id_number"},
		{"ani", CallParams{DialogParams: &DialogParams{ANI: long}}, "ani"},
		{"aniii", CallParams{DialogParams: &DialogParams{ANIII: long}}, "aniii"},
		{"rdnis", CallParams{DialogParams: &DialogParams{RDNIS: "\x00"}}, "rdnis"},
		{"answer's callee name", CallParams{CalleeIDName: long}, "callee_id_name"},
		{"answer's callee number", CallParams{CalleeIDNumber: long}, "callee_id_number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.CheckParties()
			var ie *IdentError
			switch {
			case tc.what == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.what != "" && (!errors.As(err, &ie) || ie.What != tc.what):
				t.Fatalf("got %v, want an invalid %s", err, tc.what)
			}
		})
	}
	// PartyKeys (what XCtrl scans a message for) are what CheckParties
	// reads: each one too long is refused by its name.
	for _, k := range PartyKeys {
		m := &Message{Params: []byte(`{"dialogParams":{"` + k + `":"` + long + `"}}`)}
		p, err := m.DecodeCallParams()
		if err != nil {
			t.Fatal(err)
		}
		var ie *IdentError
		if err := p.CheckParties(); !errors.As(err, &ie) || ie.What != k {
			t.Errorf("dialogParams.%s too long: %v", k, err)
		}
	}
}
