package conf

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadDir(t *testing.T, name string, vars map[string]string) *Directory {
	t.Helper()
	d, err := LoadDirectory(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	if vars != nil {
		if d, err = d.Resolve(vars); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestDirectoryLogin(t *testing.T) {
	full := loadDir(t, "directory.xml", nil)
	bare := loadDir(t, "directory-domain.xml", map[string]string{"domain": "xswitch.cn", "default_password": "1234"})
	incl := loadDir(t, "directory-include.xml", nil)
	for _, d := range []*Directory{full, bare, incl} {
		if ps := d.Problems(); len(ps) != 0 {
			t.Errorf("%s: problems %v", d.File, ps)
		}
	}
	for _, tc := range []struct {
		dir            *Directory
		user, domain   string
		found          bool
		password       string
		passwordOK     bool
		wrongPassword  string
		wantID         string
		wantContext    string
		wantMethods    []string
		wantCallerName string
	}{
		{full, "1000", "xswitch.cn", true, "1234", true, "12345", "1000", "default", []string{"verto"}, "Extension 1000"},
		{full, "1019", "XSwitch.CN", true, "1234", true, "", "1019", "webrtc", []string{"verto"}, "Web Desk"},
		{full, "1005", "xswitch.cn", true, "1234", true, "4321", "1005", "default", []string{"verto"}, "Extension 1005"},
		{full, "1010", "xswitch.cn", true, "1234", true, "", "1010", "default", []string{"verto.invite", "verto.bye", "verto.info"}, "Extension 1010"},
		{full, "1020", "xswitch.cn", false, "", false, "", "", "", nil, ""},
		{full, "1000", "example.com", false, "", false, "", "", "", nil, ""},
		{bare, "1000", "xswitch.cn", true, "1234", true, "", "1000", "default", []string{"verto"}, "Extension 1000"},
		{bare, "8000", "xswitch.cn", true, "1234", true, "", "1000", "default", []string{"verto"}, "Extension 1000"},
		{bare, "1001", "xswitch.cn", true, "1234", true, "", "1001", "vip", []string{"verto", "jsapi"}, ""},
		{incl, "2000", "xswitch.cn", true, "secret", true, "1234", "2000", "", nil, ""},
		{incl, "alice", "example.com", true, "rpc-pass", true, "sip-pass", "alice", "support", nil, ""},
	} {
		u, ok := tc.dir.Lookup(tc.user, tc.domain)
		name := tc.dir.File + ":" + tc.user + "@" + tc.domain
		if ok != tc.found {
			t.Errorf("%s: found %v", name, ok)
			continue
		}
		if !ok {
			continue
		}
		if u.ID != tc.wantID || u.Context() != tc.wantContext || u.CallerIDName() != tc.wantCallerName ||
			!slices.Equal(u.AllowedMethods(), tc.wantMethods) {
			t.Errorf("%s: id %q context %q caller %q methods %q", name, u.ID, u.Context(), u.CallerIDName(), u.AllowedMethods())
		}
		if u.CheckPassword(tc.password) != tc.passwordOK {
			t.Errorf("%s: CheckPassword(%q) != %v", name, tc.password, tc.passwordOK)
		}
		if tc.wrongPassword != "" && u.CheckPassword(tc.wrongPassword) {
			t.Errorf("%s: wrong password %q accepted", name, tc.wrongPassword)
		}
		if u.CheckPassword("") {
			t.Errorf("%s: empty password accepted", name)
		}
	}
}

func TestDirectoryUserDetails(t *testing.T) {
	d := loadDir(t, "directory.xml", nil)
	if len(d.Domains) != 1 || len(d.Domains[0].Users) != 20 {
		t.Fatalf("domains %d users %d", len(d.Domains), len(d.Domains[0].Users))
	}
	u, _ := d.Lookup("1000", "xswitch.cn")
	if !slices.Equal(u.Groups, []string{"default", "sales"}) || u.Login() != "1000@xswitch.cn" || u.Line != 21 {
		t.Errorf("groups %v login %q line %d", u.Groups, u.Login(), u.Line)
	}
	// Domain params and variables are inherited; the user's win.
	if u.Variable("record_stereo") != "true" || u.Variable("accountcode") != "1000" || u.CallerIDNumber() != "1000" {
		t.Errorf("variables %v", u.Variables)
	}
	if !u.MethodAllowed("login") || !u.MethodAllowed("verto.invite") || u.MethodAllowed("jsapi") {
		t.Error("method checks for 1000")
	}
	if !u.EventChannelAllowed("conference.3000") || !u.EventChannelAllowed("presence") || u.EventChannelAllowed("FSevent.ALL") {
		t.Error("event channel checks")
	}
	r, _ := d.Lookup("1010", "xswitch.cn")
	if !r.MethodAllowed("verto.invite") || r.MethodAllowed("verto.answer") || !r.MethodAllowed("login") {
		t.Error("restricted methods of 1010")
	}
	w, _ := d.Lookup("1019", "xswitch.cn")
	if exp, ok := w.LoginExpires(); !ok || exp != time.Hour || w.Dialplan() != "XML" {
		t.Errorf("1019: expires %v %v dialplan %q", exp, ok, w.Dialplan())
	}
	if _, ok := u.LoginExpires(); ok {
		t.Error("1000 has no login-expires")
	}
	a1, _ := d.Lookup("1005", "xswitch.cn")
	if a1.Param("A1-Hash") != A1Hash("1005", "xswitch.cn", "1234") || a1.Param("password") != "" {
		t.Errorf("a1-hash user params %v", a1.Params)
	}
	alice, _ := loadDir(t, "directory-include.xml", nil).Lookup("alice", "example.com")
	if exp, ok := alice.LoginExpires(); !ok || exp != 10*time.Minute || !slices.Equal(alice.Groups, []string{"support"}) {
		t.Errorf("alice: %v %v %v", exp, ok, alice.Groups)
	}
	if alice.AllowedJSAPI() != nil || !alice.MethodAllowed("anything") {
		t.Error("unrestricted user")
	}
}

func TestDirectoryResolve(t *testing.T) {
	raw := loadDir(t, "directory-domain.xml", nil)
	if _, ok := raw.Lookup("1000", "$${domain}"); !ok {
		t.Error("raw directory keeps the reference as domain name")
	}
	_, err := raw.Resolve(map[string]string{"domain": "d"})
	var ue *UnresolvedError
	if !errors.As(err, &ue) || !slices.Equal(ue.Names(), []string{"default_password"}) || ue.Refs[0].Line != 13 {
		t.Errorf("got %v", err)
	}
	// X-PRE-PROCESS set supplies variables.
	d, err := ParseDirectory("x.xml", []byte(`<include>
  <X-PRE-PROCESS cmd="set" data="domain=example.org"/>
  <domain name="$${domain}"><users><user id="1"><params><param name="password" value="p"/></params></user></users></domain>
</include>`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Resolve(nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := r.Lookup("1", "example.org"); !ok || !u.CheckPassword("p") {
		t.Error("set variable not applied")
	}
}

func TestDirectoryProblems(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"duplicate user", `<domain name="d"><users><user id="1"/><user id="1"/></users></domain>`, []string{`duplicate user "1"`}},
		{"duplicate domain", `<include><domain name="d"/><domain name="D"/></include>`, []string{`duplicate domain "D"`}},
		{"no id", `<domain name="d"><users><user/></users></domain>`, []string{"without an id"}},
		{"no name", `<domain/>`, []string{"without a name"}},
		{"pointer", `<domain name="d"><groups><group name="g"><users><user id="9" type="pointer"/></users></group></groups></domain>`, []string{`points to unknown user "9"`}},
		{"alias clash", `<domain name="d"><users><user id="1"/><user id="2" number-alias="1"/></users></domain>`, []string{`number-alias "1"`}},
		{"ignored", `<domain name="d"><foo/><users><bar/></users></domain>`, []string{"<foo> in <domain> is ignored", "<bar> in <users> is ignored"}},
		{"include", `<domain name="d"><X-PRE-PROCESS cmd="include" data="x/*.xml"/></domain>`, []string{`cmd="include" is not followed`}},
		{"wrong root", `<configuration/>`, []string{"root element <configuration>"}},
		{"no section", `<document><section name="dialplan"/></document>`, []string{`no <section name="directory">`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDirectory("x.xml", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			ps := d.Problems()
			if len(ps) != len(tc.want) {
				t.Fatalf("problems %v", ps)
			}
			for i, w := range tc.want {
				if !strings.Contains(ps[i].String(), w) || !strings.HasPrefix(ps[i].String(), "x.xml:1: ") {
					t.Errorf("problem %q lacks %q", ps[i], w)
				}
			}
		})
	}
}

func TestA1Hash(t *testing.T) {
	// md5("1000:xswitch.cn:1234")
	if got := A1Hash("1000", "xswitch.cn", "1234"); got != "6295cecf17ab7943e802b4d539252d4e" {
		t.Errorf("A1Hash = %q", got)
	}
	u := &User{ID: "u", Domain: "d", Params: map[string]string{"a1-hash": strings.ToUpper(A1Hash("u", "d", "pw"))}}
	if !u.CheckPassword("pw") || u.CheckPassword("PW") {
		t.Error("a1-hash compare")
	}
	if (&User{Params: map[string]string{}}).CheckPassword("") {
		t.Error("a user without a password must never match")
	}
}
