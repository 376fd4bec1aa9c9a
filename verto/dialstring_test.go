package verto

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseDialString(t *testing.T) {
	tests := []struct {
		in   string
		want DialString
		ctrl string
		from string
	}{
		{"xrtc/1000@xswitch.cn", DialString{User: "1000", Domain: "xswitch.cn"}, "", ""},
		{"xrtc/webrtc/1000@xswitch.cn", DialString{Profile: "webrtc", User: "1000", Domain: "xswitch.cn"}, "", ""},
		{"xrtc/1000", DialString{User: "1000"}, "", ""},
		{"xrtc/default/1000", DialString{Profile: "default", User: "1000"}, "", ""},
		{"{xcc_ctrl_uuid=6a0c}xrtc/default/1000@xswitch.cn",
			DialString{Vars: []KV{{"xcc_ctrl_uuid", "6a0c"}}, Profile: "default", User: "1000", Domain: "xswitch.cn"}, "6a0c", CtrlFromXccVar},
		{"xrtc/1000@xswitch.cn;ctrl_uuid=6a0c",
			DialString{User: "1000", Domain: "xswitch.cn", Params: []KV{{"ctrl_uuid", "6a0c"}}}, "6a0c", CtrlFromParam},
		{"{ctrl_uuid=6a0c}xrtc/1000@xswitch.cn",
			DialString{Vars: []KV{{"ctrl_uuid", "6a0c"}}, User: "1000", Domain: "xswitch.cn"}, "6a0c", CtrlFromVar},
		{"{xcc_ctrl_uuid=x,ctrl_uuid=v}xrtc/1000@d;ctrl_uuid=p",
			DialString{Vars: []KV{{"xcc_ctrl_uuid", "x"}, {"ctrl_uuid", "v"}}, User: "1000", Domain: "d", Params: []KV{{"ctrl_uuid", "p"}}}, "p", CtrlFromParam},
		{"{xcc_ctrl_uuid=x,ctrl_uuid=v}xrtc/1000@d",
			DialString{Vars: []KV{{"xcc_ctrl_uuid", "x"}, {"ctrl_uuid", "v"}}, User: "1000", Domain: "d"}, "v", CtrlFromVar},
		{"{a=b,c='d,e',f=g\\,h,empty=}xrtc/1000@d",
			DialString{Vars: []KV{{"a", "b"}, {"c", "d,e"}, {"f", "g,h"}, {"empty", ""}}, User: "1000", Domain: "d"}, "", ""},
		{"{origination_caller_id_name='Alice \\'A\\' Smith'}xrtc/1000@d",
			DialString{Vars: []KV{{"origination_caller_id_name", "Alice 'A' Smith"}}, User: "1000", Domain: "d"}, "", ""},
		{"  xrtc/1000@d;a=1;b=2  ", DialString{User: "1000", Domain: "d", Params: []KV{{"a", "1"}, {"b", "2"}}}, "", ""},
		{"xrtc/1000@d;ctrl_uuid=", DialString{User: "1000", Domain: "d", Params: []KV{{"ctrl_uuid", ""}}}, "", ""},
		// The per-socket form: one client socket, mod_verto's verto.rtc/u:<sessid>.
		{"xrtc/u:6d1f0c2e-1b7a-4c55-9a3e-2f0d8c1b9e77", DialString{Sessid: "6d1f0c2e-1b7a-4c55-9a3e-2f0d8c1b9e77"}, "", ""},
		{"xrtc/webrtc/u:s1", DialString{Profile: "webrtc", Sessid: "s1"}, "", ""},
		{"{leg_timeout=5}xrtc/u:s1;ctrl_uuid=c9",
			DialString{Vars: []KV{{"leg_timeout", "5"}}, Sessid: "s1", Params: []KV{{"ctrl_uuid", "c9"}}}, "c9", CtrlFromParam},
		{"xrtc/u1:x@d", DialString{User: "u1:x", Domain: "d"}, "", ""}, // not the prefix: a user
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDialString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*d, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", *d, tt.want)
			}
			if u, from := d.CtrlUUID(); u != tt.ctrl || from != tt.from {
				t.Errorf("CtrlUUID = %q (%s), want %q (%s)", u, from, tt.ctrl, tt.from)
			}
			again, err := ParseDialString(d.String())
			if err != nil {
				t.Fatalf("reparse %q: %v", d.String(), err)
			}
			if !reflect.DeepEqual(again, d) {
				t.Errorf("String() %q parses to %+v", d.String(), again)
			}
		})
	}
}

func TestParseDialStringErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 0, "empty dial string"},
		{"sofia/1000@d", 0, `expected "xrtc/"`},
		{"xrtc/", 5, "empty user"},
		{"xrtc/@d", 5, "empty user"},
		{"xrtc/1000@", 10, "empty domain"},
		{"xrtc//1000@d", 5, "empty profile name"},
		{"xrtc/p/", 7, "empty user"},
		{"xrtc/10 00@d", 7, `unexpected ' ' in user`},
		{"xrtc/1000@d@e", 11, `unexpected '@' in domain`},
		{"xrtc/1000@d;", 12, "empty parameter"},
		{"xrtc/1000@d;;a=b", 12, "empty parameter"},
		{"xrtc/1000@d;novalue", 12, "not key=value"},
		{"xrtc/1000@d;=v", 12, "not key=value"},
		{"{a=b", 0, "unterminated '{'"},
		{"{}xrtc/1000@d", 1, "empty variable list"},
		{"{a}xrtc/1000@d", 2, `has no '='`},
		{"{=b}xrtc/1000@d", 1, "without a name"},
		{"{a=b,}xrtc/1000@d", 5, "trailing ','"},
		{"{a='b}xrtc/1000@d", 3, "unterminated quote"},
		{"{a='b'c}xrtc/1000@d", 6, "after quoted value"},
		{"{a=b}xrtc/1000@d}", 16, `unexpected '}' in domain`},
		{"{a=b} xrtc/1000@d", 5, `expected "xrtc/"`},
		{"xrtc/a/b/c@d", 8, `unexpected '/' in user`},
		{"xrtc/1000@d,xrtc/1001@d", 11, `unexpected ',' in domain`},
		{"xrtc/u:", 7, "empty sessid"},
		{"xrtc/p/u:;a=b", 9, "empty sessid"},
		{"xrtc/u:s1@d", 9, `unexpected '@' in sessid`},
		{"xrtc/u:s 1", 8, `unexpected ' ' in sessid`},
		{"xrtc/u:s1,s2", 9, `unexpected ',' in sessid`},
		{"xrtc/u:s1;", 10, "empty parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseDialString(tt.in)
			var de *DialError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DialError", err)
			}
			if de.Pos != tt.pos || !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("got pos %d %q, want pos %d %q", de.Pos, de.Msg, tt.pos, tt.msg)
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	d, err := ParseTarget("webrtc/1000@d;ctrl_uuid=c9")
	if err != nil {
		t.Fatal(err)
	}
	if d.Profile != "webrtc" || d.Login() != "1000@d" || d.Target() != "webrtc/1000@d;ctrl_uuid=c9" {
		t.Errorf("%+v", d)
	}
}

func TestResolve(t *testing.T) {
	profiles := map[string]ProfileInfo{
		"default": {CtrlSubject: "cn.xswitch.ctrl.rtc"},
		"webrtc":  {CtrlSubject: "cn.xswitch.ctrl.rtc.webrtc", Domain: "forced.example"},
		"bare":    {},
	}
	lookup := func(n string) (ProfileInfo, bool) { p, ok := profiles[n]; return p, ok }
	s := DefaultSubjects()
	tests := []struct {
		in      string
		subject string
		login   string
		err     error
	}{
		{"xrtc/1000@xswitch.cn", "cn.xswitch.ctrl.rtc", "1000@xswitch.cn", nil},
		{"xrtc/webrtc/1000", "cn.xswitch.ctrl.rtc.webrtc", "1000@forced.example", nil},
		{"xrtc/bare/1000@d", "cn.xswitch.ctrl.rtc", "1000@d", nil},
		{"{xcc_ctrl_uuid=c1}xrtc/webrtc/1000@d", "cn.xswitch.ctrl.c1", "1000@d", nil},
		{"{ctrl_uuid=c2}xrtc/1000@d", "cn.xswitch.ctrl.c2", "1000@d", nil},
		{"{xcc_ctrl_uuid=c1}xrtc/1000@d;ctrl_uuid=c3", "cn.xswitch.ctrl.c3", "1000@d", nil},
		{"xrtc/nosuch/1000@d", "", "", ErrUnknownProfile},
		{"xrtc/1000", "", "1000@global.example", nil},
		{"xrtc/u:s1", "cn.xswitch.ctrl.rtc", "", nil},
		{"xrtc/webrtc/u:s1;ctrl_uuid=c4", "cn.xswitch.ctrl.c4", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDialString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			dom := ""
			if tt.login == "1000@global.example" {
				dom = "global.example"
			}
			r, err := d.Resolve(lookup, s, dom)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.subject != "" && r.Subject != tt.subject {
				t.Errorf("subject %q, want %q", r.Subject, tt.subject)
			}
			if r.Login != tt.login {
				t.Errorf("login %q, want %q", r.Login, tt.login)
			}
		})
	}
	d, _ := ParseDialString("xrtc/1000")
	if _, err := d.Resolve(lookup, s, ""); !errors.Is(err, ErrNoDomain) {
		t.Errorf("no domain: %v", err)
	}
	// The per-socket form needs no domain, and keeps none.
	d, _ = ParseDialString("xrtc/webrtc/u:s1")
	r, err := d.Resolve(lookup, s, "")
	if err != nil || r.Sessid != "s1" || r.Domain != "" || r.User != "" || r.Profile != "webrtc" {
		t.Errorf("per-socket route %+v, %v", r, err)
	}
	// A sessid is bounded as one from a browser is.
	d = &DialString{Sessid: strings.Repeat("s", MaxSessidLen+1)}
	if _, err := d.Resolve(lookup, s, ""); err == nil {
		t.Error("an over-long sessid resolved")
	}
}

func FuzzParseDialString(f *testing.F) {
	for _, s := range []string{
		"xrtc/1000@d", "xrtc/p/1000@d;ctrl_uuid=x", "{a=b,c='d,e'}xrtc/u@d",
		"{a=\\,}xrtc/u", "{a='\\''}xrtc/p/u@d;k=v", "{", "xrtc/;", "{a=b}}xrtc/u",
		"xrtc/u:s1", "xrtc/p/u:6d1f-0c2e;ctrl_uuid=c", "{leg_timeout=5}xrtc/u:s@1", "xrtc/u:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDialString(s)
		if err != nil {
			var de *DialError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T", err)
			}
			if de.Pos < 0 || de.Pos > len(s) {
				t.Fatalf("position %d outside input of %d bytes", de.Pos, len(s))
			}
			return
		}
		out := d.String()
		again, err := ParseDialString(out)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String() %q does not parse: %v", s, out, err)
		}
		if !reflect.DeepEqual(again, d) {
			t.Fatalf("round trip of %q via %q: %+v != %+v", s, out, again, d)
		}
		if again.String() != out {
			t.Fatalf("String not stable: %q vs %q", again.String(), out)
		}
	})
}
