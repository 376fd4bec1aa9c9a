package conf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFullConfigTypedFields(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "valid", "full.conf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve(map[string]string{"local_ip_v4": "10.0.0.5", "external_rtp_ip": "203.0.113.7", "domain": "xswitch.cn"})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Settings
	wantSettings := Settings{Debug: 3, EnablePresence: false, EnableFSEvents: true, DetachTimeout: time.Minute,
		NATSURLs: []string{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}, NodeUUID: "node-a",
		NodeSubject: "cn.xswitch.node", NodeQueue: "xnode", StatusSubject: "cn.xswitch.status.node", SubjectPrefix: "cn.xswitch"}
	s.Line, s.Params = 0, nil
	if !reflect.DeepEqual(s, wantSettings) {
		t.Errorf("settings:\n got %+v\nwant %+v", s, wantSettings)
	}
	if got := r.ProfileNames(); !slices.Equal(got, []string{"default", "webrtc-v6"}) {
		t.Fatalf("profiles %v", got)
	}
	p, _ := r.Profile("default")
	checks := []struct {
		name      string
		got, want any
	}{
		{"CtrlSubject", p.CtrlSubject, "cn.xswitch.ctrl.rtc"},
		{"MediaTimeout", p.MediaTimeout, 30 * time.Second},
		{"MediaHoldTimeout", p.MediaHoldTimeout, 10 * time.Minute},
		{"HoldTimeout", p.HoldTimeout(), 10 * time.Minute},
		{"DetachTimeout", p.EffectiveDetachTimeout(&r.Settings), 30 * time.Second},
		{"InboundCodecString", p.InboundCodecString, "opus,vp8,h264"},
		{"OutboundCodecString", p.OutboundCodecString, "opus,vp8"},
		{"AutoJitterbuffer", p.AutoJitterbuffer, "60:200"},
		{"RTPIPs", p.RTPIPs, []string{"10.0.0.5", "192.168.1.10"}},
		{"ExtRTPIP", p.ExtRTPIP, "203.0.113.7"},
		{"CandidateACLs", p.CandidateACLs, []string{"localnet.auto", "wan_v4.auto"}},
		{"EnableText", p.EnableText, true},
		{"ReplaceAnySession", p.ReplaceAnySession, true},
		{"Debug", p.Debug, 1},
		{"ForceRegisterDomain", p.ForceRegisterDomain, "xswitch.cn"},
		{"Line", p.Line, 17},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Defaults fill the second profile; its detach timeout comes from settings.
	v6, _ := r.Profile("webrtc-v6")
	if v6.Context != "default" || v6.Dialplan != "XML" || v6.TimerName != "soft" || v6.LocalNetwork != "localnet.auto" ||
		v6.OutboundCodecString != "opus,vp8" || v6.InboundCodecString != "opus,vp8" || v6.AutoJitterbuffer != "1p:20p" ||
		v6.MediaTimeout != 0 || v6.HoldTimeout() != 0 || v6.EffectiveDetachTimeout(&r.Settings) != time.Minute {
		t.Errorf("defaults not applied: %+v", v6)
	}
	// Raw params keep the reference and the line.
	var rtp []Param
	for _, q := range p.Params {
		if q.Name == "rtp-ip" {
			rtp = append(rtp, q)
		}
	}
	want := []Param{{Name: "rtp-ip", Value: "10.0.0.5", Raw: "$${local_ip_v4}", Line: 29}, {Name: "rtp-ip", Value: "192.168.1.10", Raw: "192.168.1.10", Line: 30}}
	if !reflect.DeepEqual(rtp, want) {
		t.Errorf("rtp-ip params %+v, want %+v", rtp, want)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("min.xml", []byte(`<configuration name="xcc-rtc.conf"><profiles><profile name="default"><param name="rtp-ip" value="::1"/></profile></profiles></configuration>`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings
	if s.Debug != 0 || !s.EnablePresence || s.EnableFSEvents || s.DetachTimeout != 120*time.Second ||
		!slices.Equal(s.NATSURLs, []string{"nats://127.0.0.1:4222"}) || s.NodeUUID != "" || s.NodeSubject != "cn.xswitch.node" ||
		s.NodeQueue != "xnode" || s.StatusSubject != "cn.xswitch.status.node" || s.SubjectPrefix != "cn.xswitch" {
		t.Errorf("settings defaults: %+v", s)
	}
	p := c.Profiles[0]
	if p.CtrlSubject != "cn.xswitch.ctrl.rtc" || p.MediaTimeout != 0 || p.MediaHoldTimeout != 0 || p.Context != "default" ||
		p.Dialplan != "XML" || p.TimerName != "soft" || p.LocalNetwork != "localnet.auto" || p.EnableText || p.ReplaceAnySession || p.ExtRTPIP != "" ||
		len(p.CandidateACLs) != 0 || p.ForceRegisterDomain != "" {
		t.Errorf("profile defaults: %+v", p)
	}
	if ps := c.Validate(ValidateOptions{RequireDefault: true}); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
}

func TestHoldTimeout(t *testing.T) {
	for _, tc := range []struct {
		media, hold, want time.Duration
	}{
		{0, 0, 0},
		{5 * time.Second, 0, 50 * time.Second},
		{5 * time.Second, 2 * time.Minute, 2 * time.Minute},
		{0, time.Minute, time.Minute},
	} {
		p := &Profile{MediaTimeout: tc.media, MediaHoldTimeout: tc.hold}
		if got := p.HoldTimeout(); got != tc.want {
			t.Errorf("media %v hold %v: got %v, want %v", tc.media, tc.hold, got, tc.want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
	}{
		{"empty", ``, 1},
		{"unclosed", "<configuration>\n<settings>\n", 3},
		{"mismatch", "<configuration>\n  <settings>\n  </profiles>\n</configuration>", 3},
		{"bad attr", "<configuration>\n<param name=x/>\n</configuration>", 2},
		{"two roots", "<a/>\n<b/>", 2},
		{"text outside", "<a/>\ntext", 2},
		{"entity", "<a>\n&nbsp;</a>", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.xml", []byte(tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if se.Line != tc.line || !strings.HasPrefix(err.Error(), "x.xml:") {
				t.Errorf("got %q (line %d), want line %d", err, se.Line, tc.line)
			}
		})
	}
}

func TestWrappedConfiguration(t *testing.T) {
	doc := `<document type="freeswitch/xml">
  <section name="configuration">
    <configuration name="sofia.conf"/>
    <configuration name="xcc-rtc.conf">
      <profiles><profile name="default"><param name="rtp-ip" value="10.0.0.1"/></profile></profiles>
    </configuration>
  </section>
</document>`
	c, err := Parse("freeswitch.xml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(ValidateOptions{}); len(ps) != 0 || c.Profiles[0].Line != 5 {
		t.Errorf("problems %v, profile line %d", ps, c.Profiles[0].Line)
	}
}

func TestResolve(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "valid", "full.conf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// Raw: references kept as written and not type-checked.
	if p, _ := c.Profile("default"); p.RTPIPs[0] != "$${local_ip_v4}" || p.ForceRegisterDomain != "$${domain}" {
		t.Errorf("raw values changed: %v %q", p.RTPIPs, p.ForceRegisterDomain)
	}
	_, err = c.Resolve(map[string]string{"domain": "d"})
	var ue *UnresolvedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnresolved) {
		t.Fatalf("got %v, want *UnresolvedError", err)
	}
	if got := ue.Names(); !slices.Equal(got, []string{"external_rtp_ip", "local_ip_v4"}) {
		t.Errorf("names %v", got)
	}
	if !strings.Contains(err.Error(), "$${local_ip_v4} (line 29)") {
		t.Errorf("message %q lacks the line", err)
	}
	// A resolved bad value is a problem of the resolved config only.
	r, err := c.Resolve(map[string]string{"domain": "d", "local_ip_v4": "not-an-ip", "external_rtp_ip": "1.2.3.4"})
	if err != nil {
		t.Fatal(err)
	}
	ps := r.Validate(ValidateOptions{})
	if len(ps) != 1 || ps[0].Line != 29 || ps[0].Param != "rtp-ip" || !strings.Contains(ps[0].Message, `"not-an-ip" is not an IP address`) {
		t.Errorf("problems %v", ps)
	}
	if len(c.Validate(ValidateOptions{})) != 0 {
		t.Error("the raw config changed")
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"a": "1", "b": "two"}
	for _, tc := range []struct{ in, want, missing string }{
		{"plain", "plain", ""},
		{"$${a}", "1", ""},
		{"x$${a}y$${b}z", "x1ytwoz", ""},
		{"$${c}:$${a}", "$${c}:1", "c"},
		{"$${a", "$${a", ""},
		{"${a}", "${a}", ""},
		{"$${}", "$${}", ""},
	} {
		var missing []string
		got := expand(tc.in, vars, func(n string) { missing = append(missing, n) })
		if got != tc.want || strings.Join(missing, ",") != tc.missing {
			t.Errorf("expand(%q) = %q missing %v, want %q missing %q", tc.in, got, missing, tc.want, tc.missing)
		}
	}
}

func TestParseValue(t *testing.T) {
	spec := func(scope Scope, name string) ParamSpec {
		s, ok := LookupParam(scope, name)
		if !ok {
			t.Fatalf("no spec %s", name)
		}
		return s
	}
	for _, tc := range []struct {
		scope       Scope
		name, value string
		want        any    // nil: error expected
		errHas      string // part of the error
	}{
		{ScopeSettings, "debug", "7", int64(7), ""},
		{ScopeSettings, "debug", " 0 ", int64(0), ""},
		{ScopeSettings, "debug", "8", nil, "out of range"},
		{ScopeSettings, "debug", "-1", nil, "out of range"},
		{ScopeSettings, "debug", "1.5", nil, "not an integer"},
		{ScopeSettings, "enable-presence", "yes", true, ""},
		{ScopeSettings, "enable-presence", "Off", false, ""},
		{ScopeSettings, "enable-presence", "2", nil, "not a boolean"},
		{ScopeSettings, "detach-timeout-sec", "0", time.Duration(0), ""},
		{ScopeSettings, "detach-timeout-sec", "-5", nil, "negative"},
		{ScopeSettings, "detach-timeout-sec", "99999999999999999", nil, "too long"},
		{ScopeSettings, "nats-url", "nats://a:4222,tls://b", []string{"nats://a:4222", "tls://b"}, ""},
		{ScopeSettings, "nats-url", "10.0.0.1:4222", []string{"10.0.0.1:4222"}, ""},
		{ScopeSettings, "nats-url", "nats://a,,nats://b", nil, "empty URL"},
		{ScopeSettings, "nats-url", "nats://", nil, "no host"},
		{ScopeSettings, "nats-url", "", nil, "empty value"},
		{ScopeSettings, "node-uuid", "", "", ""},
		{ScopeSettings, "node-uuid", "a.b", nil, "token"},
		{ScopeSettings, "node-subject", "cn.x>", nil, "wildcards"},
		{ScopeSettings, "node-subject", ".cn", nil, "empty token"},
		{ScopeProfile, "media-timeout", "1500", 1500 * time.Millisecond, ""},
		{ScopeProfile, "media-timeout", "-1", nil, "negative"},
		{ScopeProfile, "rtp-ip", "fe80::1", "fe80::1", ""},
		{ScopeProfile, "rtp-ip", "10.0.0.256", nil, "not an IP"},
		{ScopeProfile, "rtp-ip", "", nil, "empty"},
		{ScopeProfile, "ext-rtp-ip", "stun:stun.example.com", "stun:stun.example.com", ""},
		{ScopeProfile, "ext-rtp-ip", "host:fs.example.com", "host:fs.example.com", ""},
		{ScopeProfile, "ext-rtp-ip", "autonat:10.0.0.1", "autonat:10.0.0.1", ""},
		{ScopeProfile, "ext-rtp-ip", "stun:", nil, "not an IP"},
		{ScopeProfile, "ext-rtp-ip", "example.com", nil, "not an IP"},
		{ScopeProfile, "apply-candidate-acl", "wan v4", nil, "ACL"},
		{ScopeProfile, "auto-jitterbuffer-msec", "1p:20p", "1p:20p", ""},
		{ScopeProfile, "auto-jitterbuffer-msec", "60:200:10", "60:200:10", ""},
		{ScopeProfile, "auto-jitterbuffer-msec", "p", nil, "jitter"},
		{ScopeProfile, "outbound-codec-string", "opus , vp8", []string{"opus", "vp8"}, ""},
		{ScopeProfile, "inbound-codec-string", "", []string(nil), ""},
		{ScopeProfile, "context", "", nil, "empty"},
		{ScopeProfile, "force-register-domain", "", "", ""},
	} {
		got, err := parseValue(spec(tc.scope, tc.name), tc.value)
		if tc.want == nil {
			if err == nil || !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s=%q: got %v, %v; want error with %q", tc.name, tc.value, got, err, tc.errHas)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s=%q: got %#v, %v; want %#v", tc.name, tc.value, got, err, tc.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	names := specNames(ScopeProfile)
	for _, tc := range []struct{ in, want string }{
		{"media-timout", "media-timeout"},
		{"MEDIA-TIMEOUT", "media-timeout"},
		{"rtp_ip", "rtp-ip"},
		{"ext-rtpip", "ext-rtp-ip"},
		{"apply-candidate-acls", "apply-candidate-acl"},
		{"outbound-codecs", ""},
		{"zzz", ""},
		{"", ""},
	} {
		if got := didYouMean(tc.in, names); got != tc.want {
			t.Errorf("didYouMean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance = %d", d)
	}
}

func TestRequireDefault(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "invalid", "missing-default.conf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	loose := c.Validate(ValidateOptions{})
	if len(loose) != 1 || loose[0].Severity != SeverityWarning || loose.Err() != nil || loose.HasErrors() {
		t.Errorf("without RequireDefault: %v", loose)
	}
	strict := c.Validate(ValidateOptions{RequireDefault: true})
	if len(strict) != 1 || strict[0].Severity != SeverityError || !errors.Is(strict.Err(), ErrInvalid) {
		t.Errorf("with RequireDefault: %v", strict)
	}
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Line: 3, Profile: "x", Param: "y", Message: "m"}, `f:3: profile "x" param "y": m`},
		{Problem{File: "f", Line: 3, Param: "debug", Scope: ScopeSettings, Message: "m"}, `f:3: settings param "debug": m`},
		{Problem{File: "f", Line: 3, Profile: "x", Message: "m", Severity: SeverityWarning}, `f:3: profile "x": warning: m`},
		{Problem{File: "f", Message: "m"}, `f: m`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestSpecsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Specs() {
		key := s.Scope.String() + "/" + s.Name
		if seen[key] {
			t.Errorf("duplicate spec %s", key)
		}
		seen[key] = true
		if s.NotApplicable == "" && s.Doc == "" {
			t.Errorf("%s has no doc", key)
		}
		if s.Default != "" {
			if _, err := parseValue(s, s.Default); err != nil {
				t.Errorf("%s default: %v", key, err)
			}
		}
		if strings.Contains(s.Doc, "--") {
			t.Errorf("%s doc cannot go in an XML comment", key)
		}
	}
	for _, name := range []string{"bind-local", "secure-combined", "secure-cert", "secure-key", "secure-chain", "userauth",
		"root-password", "blind-reg", "chop-domain", "send-auth-password", "apply-connection-acl", "mcast-ip", "mcast-port", "kslog"} {
		if s, ok := LookupParam(ScopeProfile, name); !ok || s.NotApplicable == "" {
			t.Errorf("%s should be a known, not applicable profile param", name)
		}
	}
}

// The README is the operator's reference: it must list every parameter with
// its default.
func TestREADMEListsEveryParam(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, s := range Specs() {
		if !strings.Contains(readme, "`"+s.Name+"`") {
			t.Errorf("README lacks %s", s.Name)
			continue
		}
		if s.NotApplicable != "" || s.Default == "" {
			continue
		}
		row := "| `" + s.Name + "` | "
		found := false
		for line := range strings.SplitSeq(readme, "\n") {
			if strings.HasPrefix(line, row) && strings.Contains(line, "| `"+s.Default+"` |") {
				found = true
			}
		}
		if !found {
			t.Errorf("README has no row for %s with default %q", s.Name, s.Default)
		}
	}
}
