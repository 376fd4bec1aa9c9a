package conf

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// fsconf is the test configuration in FreeSWITCH's layout.
const fsconf = "../testdata/fsconf"

// testCore are fixed core variables, so that tests do not depend on the
// machine's addresses.
var testCore = map[string]string{"local_ip_v4": "127.0.0.1", "hostname": "test-host"}

func testEnv(name string) (string, bool) {
	if name == "XRTC_TEST_ENV_PASSWORD" {
		return "from-env", true
	}
	return "", false
}

func loadFS(t *testing.T, vars map[string]string) *Directory {
	t.Helper()
	d, err := LoadFreeSWITCH(fsconf, DirectoryOptions{Vars: vars, CoreVars: testCore, Getenv: testEnv})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func loadDir(t *testing.T, name string, vars map[string]string) *Directory {
	t.Helper()
	d, err := LoadDirectory(filepath.Join(testdata, name), DirectoryOptions{Vars: vars, CoreVars: testCore})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestFreeSWITCHLayout(t *testing.T) {
	d := loadFS(t, nil)
	if ps := d.Problems(); len(ps) != 0 {
		t.Fatalf("problems:\n%v", ps)
	}
	var rel []string
	for _, f := range d.Files {
		r, _ := filepath.Rel(fsconf, f)
		rel = append(rel, filepath.ToSlash(r))
	}
	want := []string{"freeswitch.xml", "vars.xml", "autoload_configs/modules.conf.xml", "autoload_configs/sofia.conf.xml",
		"dialplan/default.xml", "directory/default.xml", "directory/default/1000.xml", "directory/default/1001.xml",
		"directory/default/1002.xml", "directory/default/1003.xml", "directory/groups/support-alice.xml",
		"directory/example.org.xml", "directory/z-users.xml", "extra/erin.xml"}
	if !slices.Equal(rel, want) {
		t.Errorf("files read:\n%q\nwant\n%q", rel, want)
	}
	for k, v := range map[string]string{"domain": "127.0.0.1", "domain_name": "127.0.0.1", "default_password": "1234",
		"commented_out": "still set", "old_form": "yes", "env_password": "from-env", "hostname": "test-host"} {
		if d.Vars[k] != v {
			t.Errorf("variable %s = %q, want %q", k, d.Vars[k], v)
		}
	}
	if _, ok := d.Vars["external_rtp_ip"]; ok {
		t.Error("stun-set gave external_rtp_ip a value")
	}
	var names []string
	for _, dom := range d.Domains {
		names = append(names, dom.Name)
	}
	if !slices.Equal(names, []string{"127.0.0.1", "example.org", "users.example"}) || d.UserCount() != 9 {
		t.Errorf("domains %q, %d users", names, d.UserCount())
	}
}

// TestFreeSWITCHLogins: every placement, as a login finds it, with the
// data mod_verto would take from it.
func TestFreeSWITCHLogins(t *testing.T) {
	d := loadFS(t, nil)
	for _, tc := range []struct {
		login, domain, password string
		ok                      bool
		id, group               string
		context, dialplan       string
		methods                 []string
		vars                    map[string]string
	}{
		// group "default", included from default/*.xml; domain params and variables inherited
		{"1000", "127.0.0.1", "1234", true, "1000", "default", "default", "", []string{"verto"},
			map[string]string{"toll_allow": "domestic,international,local", "record_stereo": "true", "user_context": "default", "outbound_caller_id_name": "XCC Test"}},
		{"1000", "127.0.0.1", "12345", false, "1000", "default", "default", "", []string{"verto"}, nil},
		// by number-alias
		{"8001", "127.0.0.1", "1234", true, "1001", "default", "default", "", []string{"verto"}, map[string]string{"accountcode": "1001"}},
		// a1-hash of "1002:127.0.0.1:1234"
		{"1002", "127.0.0.1", "1234", true, "1002", "default", "default", "", []string{"verto"}, nil},
		{"1002", "127.0.0.1", "4321", false, "1002", "default", "default", "", []string{"verto"}, nil},
		// jsonrpc-password (env-set) wins over password; user_context beats verto-context
		{"1003", "127.0.0.1", "from-env", true, "1003", "default", "default", "XML", []string{"verto.invite", "verto.bye", "verto.info"}, nil},
		{"1003", "127.0.0.1", "sip-only", false, "1003", "default", "default", "XML", []string{"verto.invite", "verto.bye", "verto.info"}, nil},
		// group params and variables, between the user's and the domain's; ids match case-insensitively
		{"ALICE", "127.0.0.1", "wonderland", true, "alice", "support", "support", "", []string{"verto", "jsapi"},
			map[string]string{"callgroup": "support", "user_context": "support", "accountcode": "alice", "record_stereo": "true"}},
		{"2001", "127.0.0.1", "wonderland", true, "alice", "support", "support", "", []string{"verto", "jsapi"}, nil},
		// straight under <domain>; domain names match case-insensitively
		{"bob", "EXAMPLE.org", "builder", true, "bob", "", "example", "", nil, map[string]string{"moderator": "true"}},
		{"300", "example.org", "sales.127.0.0.1", true, "carol", "", "example", "", nil, nil},
		// <domain><users>, and a user from an old-form <!--#include-->
		{"dave", "users.example", "dave-pw", true, "dave", "", "", "", []string{"verto"}, nil},
		{"erin", "users.example", "yes-still set", true, "erin", "", "", "", []string{}, nil},
		// unknown
		{"1000", "example.org", "1234", false, "", "", "", "", nil, nil},
		{"9999", "127.0.0.1", "1234", false, "", "", "", "", nil, nil},
	} {
		name := tc.login + "@" + tc.domain + "/" + tc.password
		u, found := d.Lookup(tc.login, tc.domain)
		if tc.id == "" {
			if found {
				t.Errorf("%s: found %s", name, u.Login())
			}
			continue
		}
		if !found {
			t.Errorf("%s: not found", name)
			continue
		}
		if got := u.CheckPassword(tc.login, tc.domain, tc.password); got != tc.ok {
			t.Errorf("%s: CheckPassword = %v", name, got)
		}
		if u.ID != tc.id || u.Group != tc.group || u.Context() != tc.context || u.Dialplan() != tc.dialplan ||
			!slices.Equal(u.AllowedMethods(), tc.methods) || (tc.methods == nil) != (u.AllowedMethods() == nil) {
			t.Errorf("%s: id %q group %q context %q dialplan %q methods %q", name, u.ID, u.Group, u.Context(), u.Dialplan(), u.AllowedMethods())
		}
		for k, v := range tc.vars {
			if u.Variables[k] != v {
				t.Errorf("%s: variable %s = %q, want %q", name, k, u.Variables[k], v)
			}
		}
		if u.CheckPassword(tc.login, tc.domain, "") {
			t.Errorf("%s: empty password accepted", name)
		}
	}
	u, _ := d.Lookup("1000", "127.0.0.1")
	if !slices.Equal(u.Groups, []string{"default", "sales"}) || !strings.HasSuffix(u.File, "1000.xml") || u.Line != 2 {
		t.Errorf("1000: groups %q at %s:%d", u.Groups, u.File, u.Line)
	}
	if !u.EventChannelAllowed("conference.3000") || u.EventChannelAllowed("FSevent.ALL") || !u.MethodAllowed("login") || u.MethodAllowed("echo") {
		t.Error("1000: permissions")
	}
	f, _ := d.Lookup("8001", "127.0.0.1")
	if f.CallerIDName() != "Front Desk" || f.CallerIDNumber() != "8001" {
		t.Errorf("1001: caller id %q %q", f.CallerIDName(), f.CallerIDNumber())
	}
	now := time.Unix(1_800_000_000, 0)
	if exp, ok := f.LoginExpires(now); !ok || exp.Unix() != 4102444800 {
		t.Errorf("1001: login-expires %v %v", exp, ok)
	}
	if _, ok := u.LoginExpires(now); ok {
		t.Error("1000 has no login-expires")
	}
	a, _ := d.Lookup("alice", "127.0.0.1")
	if !slices.Equal(a.AllowedJSAPI(), []string{"fsv.status"}) || len(a.AllowedFSAPI()) != 0 || a.AllowedFSAPI() == nil {
		t.Errorf("alice: jsapi %q fsapi %q", a.AllowedJSAPI(), a.AllowedFSAPI())
	}
	b, _ := d.Lookup("bob", "example.org")
	if b.AllowedEventChannels() == nil || len(b.AllowedEventChannels()) != 0 {
		t.Errorf("bob: unset jsonrpc-allowed-event-channels must allow none, got %q", b.AllowedEventChannels())
	}
}

// TestFSVar: --fs-var values win over the files' set.
func TestFSVar(t *testing.T) {
	d := loadFS(t, map[string]string{"domain": "xswitch.cn", "external_rtp_ip": "192.0.2.1"})
	if ps := d.Problems(); len(ps) != 0 {
		t.Fatalf("problems:\n%v", ps)
	}
	u, ok := d.Lookup("1000", "xswitch.cn")
	if !ok || !u.CheckPassword("1000", "xswitch.cn", "1234") {
		t.Fatal("1000@xswitch.cn")
	}
	if c, ok := d.Lookup("carol", "example.org"); !ok || !c.CheckPassword("carol", "example.org", "sales.xswitch.cn") {
		t.Fatal("carol's password from sales_domain, from domain_name, from the fixed domain")
	}
	if d.Vars["external_rtp_ip"] != "192.0.2.1" {
		t.Errorf("external_rtp_ip %q", d.Vars["external_rtp_ip"])
	}
}

// TestLoneDirectoryFile: --directory on FreeSWITCH's directory/default.xml
// sees no vars.xml: the problems say which variables are missing, and
// where; --fs-var supplies them.
func TestLoneDirectoryFile(t *testing.T) {
	file := filepath.Join(fsconf, "directory", "default.xml")
	d, err := LoadDirectory(file, DirectoryOptions{CoreVars: testCore})
	if err != nil {
		t.Fatal(err)
	}
	ps := d.Problems()
	text := ps.Error()
	for _, w := range []string{"default.xml:4: warning: $${domain} has no value", "1000.xml:4: warning: $${default_password} has no value",
		"1000.xml:12: warning: $${outbound_caller_name} has no value", "1003.xml:7: warning: $${env_password} has no value"} {
		if !strings.Contains(text, w) {
			t.Errorf("no %q in\n%s", w, text)
		}
	}
	if ps.HasErrors() {
		t.Errorf("errors: %v", ps.Errors())
	}
	d, err = LoadDirectory(file, DirectoryOptions{CoreVars: testCore, Getenv: testEnv, Vars: map[string]string{
		"domain": "xswitch.cn", "default_password": "1234", "outbound_caller_name": "x", "env_password": "e"}})
	if err != nil {
		t.Fatal(err)
	}
	if ps := d.Problems(); len(ps) != 0 {
		t.Fatalf("problems:\n%v", ps)
	}
	if u, ok := d.Lookup("1000", "xswitch.cn"); !ok || !u.CheckPassword("1000", "xswitch.cn", "1234") {
		t.Fatal("1000")
	}
	if _, err := LoadDirectory(filepath.Join(fsconf, "nonexistent.xml"), DirectoryOptions{CoreVars: testCore}); err == nil {
		t.Fatal("a missing file loaded")
	}
}

// TestDirectoryFixtures: the older single-file fixtures keep working: a
// whole <document>, a bare <domain>, an <include> of domains.
func TestDirectoryFixtures(t *testing.T) {
	full := loadDir(t, "directory.xml", nil)
	bare := loadDir(t, "directory-domain.xml", map[string]string{"domain": "xswitch.cn", "default_password": "1234"})
	incl := loadDir(t, "directory-include.xml", nil)
	for _, d := range []*Directory{full, bare, incl} {
		if ps := d.Problems(); len(ps) != 0 {
			t.Errorf("%s: problems %v", d.File, ps)
		}
	}
	for _, tc := range []struct {
		dir          *Directory
		user, domain string
		password     string
		wantID       string
	}{
		{full, "1000", "xswitch.cn", "1234", "1000"},
		{full, "1019", "XSwitch.CN", "1234", "1019"},
		{full, "1005", "xswitch.cn", "1234", "1005"},
		{bare, "8000", "xswitch.cn", "1234", "1000"},
		{incl, "2000", "xswitch.cn", "secret", "2000"},
		{incl, "alice", "example.com", "rpc-pass", "alice"},
	} {
		u, ok := tc.dir.Lookup(tc.user, tc.domain)
		if !ok || u.ID != tc.wantID || !u.CheckPassword(tc.user, tc.domain, tc.password) {
			t.Errorf("%s: %s@%s", tc.dir.File, tc.user, tc.domain)
		}
	}
	w, _ := full.Lookup("1019", "xswitch.cn")
	if w.Context() != "webrtc" || w.Dialplan() != "XML" || w.CallerIDName() != "Web Desk" {
		t.Errorf("1019: %q %q %q", w.Context(), w.Dialplan(), w.CallerIDName())
	}
	r, _ := full.Lookup("1010", "xswitch.cn")
	if !r.MethodAllowed("verto.invite") || r.MethodAllowed("verto.answer") {
		t.Error("1010's methods")
	}
	alice, _ := incl.Lookup("alice", "example.com")
	now := time.Now()
	if exp, ok := alice.LoginExpires(now); !ok || exp != now.Add(DefaultLoginExpiry) {
		t.Errorf("alice: a past login-expires gives 300 s: %v %v", exp, ok)
	}
	if alice.CheckPassword("alice", "example.com", "sip-pass") {
		t.Error("jsonrpc-password must win over password")
	}
}

// TestDirectoryProblems: places FreeSWITCH would not find a user, and
// pre-processor findings, each with the file and line it is about.
func TestDirectoryProblems(t *testing.T) {
	wrap := func(s string) string { return "<include>\n<domain name=\"d\">\n" + s + "\n</domain>\n</include>\n" }
	for _, tc := range []struct {
		name  string
		files map[string]string // "/c/dir.xml" is loaded
		want  []string          // substrings of the problems, in order
	}{
		{"pointer first", map[string]string{"/c/dir.xml": wrap(`<groups>
<group name="sales"><users><user id="1" type="pointer"/></users></group>
<group name="default"><users><user id="1"><params><param name="password" value="p"/></params></user></users></group>
</groups>`)}, []string{`/c/dir.xml:5: warning: user "1": a login as "1" gets the type="pointer" entry of group "sales" (/c/dir.xml:4)`}},
		{"user in group", map[string]string{"/c/dir.xml": wrap(`<groups><group name="g"><user id="1"/></group></groups>`)},
			[]string{"/c/dir.xml:3: warning: FreeSWITCH never finds this <user> (in <group>"}},
		{"users hide direct users", map[string]string{"/c/dir.xml": wrap("<users/>\n<user id=\"1\"/>")},
			[]string{"/c/dir.xml:4: warning: FreeSWITCH never finds this <user> (in <domain>"}},
		{"second params", map[string]string{"/c/dir.xml": wrap("<user id=\"1\"><params/>\n<params/></user>")},
			[]string{"/c/dir.xml:4: warning: a second <params> in <user>"}},
		{"typed user", map[string]string{"/c/dir.xml": wrap(`<user id="1" type="special"/>`)},
			[]string{`/c/dir.xml:3: warning: <user type="special">`}},
		{"duplicate user", map[string]string{"/c/dir.xml": wrap("<user id=\"1\"/>\n<user id=\"1\"/>")},
			[]string{`/c/dir.xml:4: warning: user "1" is defined again: FreeSWITCH uses the first (/c/dir.xml:3)`}},
		{"alias shadowed", map[string]string{"/c/dir.xml": wrap("<user id=\"1\"/>\n<user id=\"2\" number-alias=\"1\"/>")},
			[]string{`/c/dir.xml:4: warning: user "2": a login as "1" (its number-alias) finds user "1"`}},
		{"unknown pointer", map[string]string{"/c/dir.xml": wrap(`<groups><group name="g"><users><user id="9" type="pointer"/></users></group></groups>`)},
			[]string{`points to user "9", which is defined nowhere`}},
		{"duplicate domain", map[string]string{"/c/dir.xml": "<domain name=\"d\"/>\n<domain name=\"D\"/>\n"},
			[]string{`/c/dir.xml:2: warning: domain "D" is defined again`}},
		{"a1-hash", map[string]string{"/c/dir.xml": wrap(`<user id="1"><params><param name="a1-hash" value="ABC"/></params></user>`)},
			[]string{`param "a1-hash": not 32 lower-case hex digits`}},
		{"methods with commas and spaces", map[string]string{"/c/dir.xml": wrap(`<params><param name="jsonrpc-allowed-methods" value="verto, jsapi"/></params>`)},
			[]string{`splits at spaces only`}},
		{"exec", map[string]string{"/c/dir.xml": wrap(`<X-PRE-PROCESS cmd="exec" data="/usr/bin/users"/>`)},
			[]string{`/c/dir.xml:3: X-PRE-PROCESS cmd="exec" data="/usr/bin/users": FreeSWITCH inserts a command's output here; XCtrl runs no commands`}},
		{"stun-set used", map[string]string{"/c/dir.xml": "<X-PRE-PROCESS cmd=\"stun-set\" data=\"ip=stun:x\"/>\n" + wrap(`<user id="$${ip}"/>`)},
			[]string{`/c/dir.xml:4: warning: $${ip} has no value here: it is set by a STUN lookup (stun-set), which XCtrl does not make at /c/dir.xml:1`}},
		{"set from stun-set", map[string]string{"/c/dir.xml": "<X-PRE-PROCESS cmd=\"stun-set\" data=\"ip=stun:x\"/>\n<X-PRE-PROCESS cmd=\"set\" data=\"pw=$${ip}\"/>\n" + wrap(`<user id="1"><params><param name="password" value="$${pw}"/></params></user>`)},
			[]string{`/c/dir.xml:2: warning: $${ip} has no value here`, `/c/dir.xml:5: warning: $${pw} has no value here: $${ip} has no value at /c/dir.xml:2`}},
		{"include without match", map[string]string{"/c/dir.xml": wrap(`<X-PRE-PROCESS cmd="include" data="nothere/*.xml"/>`)},
			[]string{`/c/dir.xml:3: warning: include "nothere/*.xml": no file matches /c/nothere/*.xml`}},
		{"include cycle", map[string]string{"/c/dir.xml": wrap(`<X-PRE-PROCESS cmd="include" data="dir.xml"/>`)},
			[]string{`/c/dir.xml:3: include "dir.xml": /c/dir.xml includes itself (/c/dir.xml -> /c/dir.xml)`}},
		{"unknown command", map[string]string{"/c/dir.xml": wrap(`<X-PRE-PROCESS cmd="frobnicate" data="x"/>`)},
			[]string{`X-PRE-PROCESS cmd="frobnicate" is no pre-processor command`}},
		{"no data", map[string]string{"/c/dir.xml": wrap(`<X-PRE-PROCESS cmd='set' data='a=b'/>`)},
			[]string{`/c/dir.xml:3: warning: <X-PRE-PROCESS> without cmd="..." and data="..."`}},
		{"include line with content", map[string]string{"/c/dir.xml": "<domain name=\"d\">\n<include><user id=\"1\"/></include>\n</domain>\n"},
			[]string{`/c/dir.xml:2: warning: FreeSWITCH's pre-processor drops this whole line`}},
		{"unset variable", map[string]string{"/c/dir.xml": wrap(`<user id="1"><params><param name="password" value="$${nope}"/></params></user>`)},
			[]string{`/c/dir.xml:3: warning: $${nope} has no value: FreeSWITCH puts nothing here`}},
		{"unterminated", map[string]string{"/c/dir.xml": wrap(`<user id="$${x"/>`)},
			[]string{`/c/dir.xml:3: warning: unterminated $${`}},
		{"syntax error in an included file", map[string]string{
			"/c/dir.xml":       wrap(`<X-PRE-PROCESS cmd="include" data="users/*.xml"/>`),
			"/c/users/bad.xml": "<include>\n  <user id=\"1\">\n  </usr>\n</include>\n"},
			[]string{`/c/users/bad.xml:3: malformed XML: unexpected end tag </usr>: <user> is open`}},
		{"second directory section", map[string]string{"/c/dir.xml": "<document>\n<section name=\"directory\"/>\n<section name=\"Directory\"/>\n</document>\n"},
			[]string{`/c/dir.xml:3: warning: a second <section name="directory">`}},
		{"no directory section", map[string]string{"/c/dir.xml": "<document>\n<section name=\"dialplan\"/>\n</document>\n"},
			[]string{`/c/dir.xml:1: no <section name="directory">`}},
		{"domain deeper", map[string]string{"/c/dir.xml": "<x>\n<domain name=\"d\"/>\n</x>\n"},
			[]string{`/c/dir.xml:2: warning: <domain> in <x>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, data := range tc.files {
				fsys[strings.TrimPrefix(name, "/")] = &fstest.MapFile{Data: []byte(data)}
			}
			d, err := LoadDirectory("/c/dir.xml", DirectoryOptions{CoreVars: map[string]string{}, FS: fsys})
			if err != nil {
				t.Fatal(err)
			}
			ps := d.Problems()
			if len(ps) != len(tc.want) {
				t.Fatalf("problems:\n%v", ps)
			}
			for i, w := range tc.want {
				if !strings.Contains(ps[i].String(), w) {
					t.Errorf("problem %q lacks %q", ps[i], w)
				}
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	// md5("1000:xswitch.cn:1234")
	if got := A1Hash("1000", "xswitch.cn", "1234"); got != "6295cecf17ab7943e802b4d539252d4e" {
		t.Errorf("A1Hash = %q", got)
	}
	a1 := A1Hash("u", "d", "pw")
	for _, tc := range []struct {
		name   string
		params []Pair
		login  string
		pw     string
		ok     bool
	}{
		{"password", []Pair{pair("password", "pw")}, "u", "pw", true},
		{"first password wins", []Pair{pair("password", "pw"), pair("Password", "other")}, "u", "pw", true},
		{"jsonrpc-password wins", []Pair{pair("password", "pw"), pair("jsonrpc-password", "rpc")}, "u", "pw", false},
		{"jsonrpc-password first", []Pair{pair("jsonrpc-password", "rpc"), pair("password", "pw")}, "u", "rpc", true},
		{"a1-hash", []Pair{pair("a1-hash", a1)}, "u", "pw", true},
		{"a1-hash of the login's name", []Pair{pair("a1-hash", a1)}, "U", "pw", false},
		{"a1-hash upper case never matches", []Pair{pair("a1-hash", strings.ToUpper(a1))}, "u", "pw", false},
		{"a1-hash after password", []Pair{pair("password", "pw"), pair("a1-hash", a1)}, "u", "pw", true},
		{"empty password", []Pair{pair("password", ""), pair("password", "pw")}, "u", "pw", false},
		{"none", nil, "u", "", false},
	} {
		u := &User{ID: "u", Domain: "d", Params: tc.params}
		if got := u.CheckPassword(tc.login, "d", tc.pw); got != tc.ok {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
	s := (&User{Params: []Pair{pair("password", "x"), pair("vm-password", "y"), pair("a1-hash", "z"), pair("verto-context", "c")}}).WithoutSecrets()
	if len(s.Params) != 1 || s.Params[0].Name != "verto-context" {
		t.Errorf("WithoutSecrets kept %v", s.Params)
	}
}

func TestParsePerm(t *testing.T) {
	for in, want := range map[string][]string{
		"verto":           {"verto"},
		"verto,jsapi":     {"verto", "jsapi"},
		"verto jsapi":     {"verto", "jsapi"},
		"verto, jsapi":    {"verto,", "jsapi"},
		"":                {},
		"__any__":         nil,
		",,verto,":        {"verto"},
		"conference demo": {"conference", "demo"},
	} {
		got := ParsePerm(in)
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("ParsePerm(%q) = %#v, want %#v", in, got, want)
		}
	}
	if !PermAllows([]string{"Verto"}, "verto.invite") || PermAllows([]string{}, "verto.invite") || !PermAllows(nil, "x") {
		t.Error("PermAllows")
	}
}

func pair(name, value string) Pair { return Pair{Name: name, Value: value} }

// The users that log in with FreeSWITCH's stock default_password are
// listed (XCtrl warns of them), whichever param holds it; pointers and
// other passwords are not.
func TestUsersWithTheStockPassword(t *testing.T) {
	a1 := A1Hash("1003", "x", StockPassword)
	fsys := fstest.MapFS{"c/dir.xml": &fstest.MapFile{Data: []byte(`<document type="freeswitch/xml"><section name="directory"><domain name="x"><groups>
<group name="g"><users>
<user id="1000"><params><param name="password" value="1234"/></params></user>
<user id="1001"><params><param name="password" value="s3cret"/></params></user>
<user id="1002"><params><param name="password" value="s3cret"/><param name="jsonrpc-password" value="1234"/></params></user>
<user id="1003"><params><param name="a1-hash" value="` + a1 + `"/></params></user>
</users></group>
<group name="h"><users><user id="1000" type="pointer"/></users></group>
</groups></domain></section></document>`)}}
	d, err := LoadDirectory("/c/dir.xml", DirectoryOptions{CoreVars: map[string]string{}, FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	got := d.UsersWithPassword(StockPassword)
	if want := []string{"1000@x", "1002@x", "1003@x"}; !slices.Equal(got, want) {
		t.Errorf("users with the stock password: %v, want %v", got, want)
	}
}
