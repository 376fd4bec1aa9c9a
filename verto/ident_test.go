package verto

import (
	"errors"
	"fmt"
	"regexp"
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
		{"login variable", CheckLogin, "${system(id)}@d", false},
		{"sessid variable", CheckSessid, "s-${uuid}", false},
		{"sessid escaped variable", CheckSessid, `s-$\{uuid}`, false},
		{"sessid dollar", CheckSessid, "s-$5 {x}", true},
		{"dtmf variable", CheckDTMF, "1${system(id)}", false},
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

// TestCheckCaller: every name and number of a call's parties a client's
// invite gives is bounded (MaxPartyLen, no control characters); absent ones
// pass.
func TestCheckCaller(t *testing.T) {
	long := strings.Repeat("n", MaxPartyLen+1)
	for _, tc := range []struct {
		name string
		dp   DialogParams
		what string // "": accepted
	}{
		{"none", DialogParams{}, ""},
		{"verto.js", DialogParams{CallerIDName: "Alice Liddell", CallerIDNumber: "1000",
			RemoteCallerIDName: "Outbound Call", RemoteCallerIDNumber: "9196"}, ""},
		{"the longest", DialogParams{CallerIDName: long[1:]}, ""},
		{"UTF-8", DialogParams{CallerIDName: "李雷 Ünïcödé"}, ""},
		{"caller name long", DialogParams{CallerIDName: long}, "caller_id_name"},
		{"caller name CRLF", DialogParams{CallerIDName: "A\r\nX-Evil: 1"}, "caller_id_name"},
		{"caller number long", DialogParams{CallerIDNumber: long}, "caller_id_number"},
		{"remote name", DialogParams{RemoteCallerIDName: long}, "remote_caller_id_name"},
		{"remote number", DialogParams{RemoteCallerIDNumber: "1\n"}, "remote_caller_id_number"},
		{"ani", DialogParams{ANI: long}, "ani"},
		{"aniii", DialogParams{ANIII: long}, "aniii"},
		{"rdnis", DialogParams{RDNIS: "\x00"}, "rdnis"},
		// The callee's are an answer's, not the invite's.
		{"callee name", DialogParams{CalleeIDName: long}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantIdentErr(t, tc.dp.CheckCaller(), tc.what)
		})
	}
	// CallerKeys (what XCtrl scans an invite for) are what CheckCaller
	// reads: each one too long is refused by its name.
	for _, k := range CallerKeys {
		m := &Message{Params: []byte(`{"dialogParams":{"` + k + `":"` + long + `"}}`)}
		p, err := m.DecodeCallParams()
		if err != nil {
			t.Fatal(err)
		}
		var ie *IdentError
		if err := p.DialogParams.CheckCaller(); !errors.As(err, &ie) || ie.What != k {
			t.Errorf("dialogParams.%s too long: %v", k, err)
		}
	}
}

func TestCheckChat(t *testing.T) {
	long := strings.Repeat("n", MaxPartyLen+1)
	headers := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `,"from_h%d":"v"`, i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, msg string
		what      string // "": accepted
	}{
		{"verto.js", `{"to":"1001@xswitch.cn","from":"1000","body":"hi\r\nthere"}`, ""},
		{"headers", `{"to":"1001@xswitch.cn","body":"b","from_display":"Alice A","TO_group":"sales","other":"` + long + `"}`, ""},
		{"the longest to", `{"to":"` + long[1:] + `","body":"b"}`, ""},
		{"a header not a string", `{"to":"a@b","body":"b","from_n":{"x":"` + long + `"}}`, ""},
		{"the most headers", `{"to":"a@b","body":"b"` + headers(MaxChatHeaders) + `}`, ""},
		{"to long", `{"to":"` + long + `","body":"b"}`, "msg.to"},
		{"to CRLF", `{"to":"1001@xswitch.cn\r\nX-Evil: 1","body":"b"}`, "msg.to"},
		{"header long", `{"to":"a@b","body":"b","from_display":"` + long + `"}`, "msg.from_display"},
		{"header LF", `{"to":"a@b","body":"b","To_x":"1\n2"}`, "msg.To_x"},
		{"a bare from_", `{"to":"a@b","body":"b","from_":"\u0000"}`, "msg.from_"},
		{"too many headers", `{"to":"a@b","body":"b"` + headers(MaxChatHeaders+1) + `}`, "msg"},
		{"body variable", `{"to":"a@b","body":"hi ${system(id)}"}`, "msg.body"},
		{"body dollar", `{"to":"a@b","body":"it costs $5 {or so}"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseObject([]byte(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			wantIdentErr(t, CheckChat(o), tc.what)
		})
	}
}

// wantIdentErr fails the test unless err is nil (what == "") or an
// IdentError about what.
func wantIdentErr(t *testing.T, err error, what string) {
	t.Helper()
	var ie *IdentError
	switch {
	case what == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case what != "" && (!errors.As(err, &ie) || ie.What != what):
		t.Fatalf("got %v, want an invalid %s", err, what)
	}
}

func TestFindVarRef(t *testing.T) {
	for _, tc := range []struct{ json, path string }{
		{`{"command":"kick","id":"7"}`, ""},
		{`{"data":{"command":"transfer","value":["${system(id)}","XML"]}}`, "data.value[0]"},
		{`{"a":"$\\{x}"}`, "a"},
		{`{"a":"\u0024\u007bx}"}`, "a"},
		{`{"${k}":1}`, "${k}"},
		{`"${x}"`, "value"},
		{`{"a":"$ {x}","b":"${"}`, "b"},
		{`not json ${x}`, ""},
	} {
		if got := FindVarRef([]byte(tc.json)); got != tc.path {
			t.Errorf("%s: %q, want %q", tc.json, got, tc.path)
		}
	}
	if got := FindVarRef([]byte(`{"fromDisplay":"${x}","data":{"fromDisplay":"${y}"}}`), "fromDisplay"); got != "data.fromDisplay" {
		t.Errorf("skipping fromDisplay: %q", got)
	}
}

// FuzzVarRef: VarRef finds what FreeSWITCH's switch_string_var_check_const
// finds, a '$', any backslashes, then '{'.
func FuzzVarRef(f *testing.F) {
	for _, s := range []string{"${x}", `$\{`, "$$", "a$ {", "${", `$\\\{`, "$"} {
		f.Add(s)
	}
	oracle := regexp.MustCompile(`\$\\*\{`)
	f.Fuzz(func(t *testing.T, s string) {
		want := -1
		if loc := oracle.FindStringIndex(s); loc != nil {
			want = loc[0]
			// The '$' that counts is the last one before the backslashes.
			for want+1 < len(s) && s[want+1] == '$' {
				want++
			}
		}
		if got := VarRef(s); got != want {
			t.Fatalf("VarRef(%q) = %d, want %d", s, got, want)
		}
	})
}
