package conf

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"xccrtc/verto"
)

// Directory is a FreeSWITCH user directory read as FreeSWITCH reads it:
// pre-processed (includes, set, $${name}), the first
// <section name="directory"> of the document, its domains, and users found
// the way switch_xml_locate_user finds them. It is read-only once loaded;
// Lookup and its users may be used from any goroutine.
type Directory struct {
	File    string            // the file read first (freeswitch.xml or the directory file)
	Files   []string          // every file read, in order
	Vars    map[string]string // FreeSWITCH's global variables after pre-processing
	Domains []*Domain

	problems Problems
}

// Domain is one <domain name=...> of the directory section.
type Domain struct {
	Name      string
	File      string
	Line      int
	Params    []Pair // the first <params>, in order
	Variables []Pair // the first <variables>, in order
	// Users are the users a login can reach, in document order: what
	// Lookup returns for every id and number-alias in the places FreeSWITCH
	// looks.
	Users []*User

	search []*container // where switch_xml_locate_user looks, in its order
}

// Pair is one <param> or <variable>: name and value as written (the same
// type travels on the bus in verto.DirectoryUser).
type Pair = verto.NameValue

// User is what FreeSWITCH's switch_xml_locate_user_merged returns for a
// login: the <user> element it found, its params and variables merged with
// its group's and its domain's (switch_xml_merge_user: the user's own
// first, then the group's and the domain's names it lacks). Do not modify
// a User a Directory returned.
type User struct {
	ID          string   // the id attribute of the <user> found
	NumberAlias string   // its number-alias attribute
	Domain      string   // the domain's name as written
	Group       string   // the group it was found in ("" outside groups)
	Groups      []string // every group listing its id (definition or pointer), in document order
	Pointer     bool     // FreeSWITCH found a type="pointer" entry (it has no params of its own)
	File        string
	Line        int

	Params    []Pair            // merged, in FreeSWITCH's order (see the accessors in user.go)
	Variables map[string]string // merged; a later duplicate in the same element wins
}

// container is one place switch_xml_locate_user looks for <user> children.
type container struct {
	el      *xel
	group   string
	users   []*xel
	merged  []*User
	byID    map[string]int // lower-cased id -> first index
	byAlias map[string]int // lower-cased number-alias -> first index
	typed   int            // first <user> with a type other than "pointer", -1 if none
}

// DirectoryOptions configure LoadFreeSWITCH and LoadDirectory.
type DirectoryOptions struct {
	// Vars are global variables whose values win over the files (xctrl
	// --fs-var): what XCtrl cannot know, such as FreeSWITCH's local_ip_v4
	// on another machine, or a stun-set result.
	Vars map[string]string
	// CoreVars are the variables FreeSWITCH's core sets before it reads
	// its configuration; nil computes them for this machine (CoreVars).
	CoreVars map[string]string
	// ConfDir resolves the relative includes of a lone directory file
	// (LoadDirectory); "" is the file's own folder, as when FreeSWITCH
	// includes it.
	ConfDir string
	// FS and Getenv as in PreprocessOptions (tests).
	FS     fs.FS
	Getenv func(string) (string, bool)
}

// CoreVars returns the global variables FreeSWITCH's core sets at start
// that a directory may use: hostname, local_ip_v4, local_mask_v4,
// local_ip_v6 (the addresses of the interface holding the default route,
// as switch_find_local_ip finds them), and conf_dir when confDir is set.
func CoreVars(confDir string) map[string]string {
	v := map[string]string{"local_ip_v4": "127.0.0.1", "local_mask_v4": "255.0.0.0", "local_ip_v6": "::1"}
	if h, err := os.Hostname(); err == nil {
		v["hostname"] = h
	}
	if ip, mask := localIP("udp4", "82.45.148.209:53"); ip != "" {
		v["local_ip_v4"], v["local_mask_v4"] = ip, mask
	}
	if ip, _ := localIP("udp6", "[2001:503:ba3e::2:30]:53"); ip != "" {
		v["local_ip_v6"] = ip
	}
	if confDir != "" {
		v["conf_dir"] = confDir
	}
	return v
}

// localIP is the source address the system picks towards dst (a UDP
// "connection": no packet leaves) and its interface's mask.
func localIP(network, dst string) (ip, mask string) {
	c, err := net.Dial(network, dst)
	if err != nil {
		return "", ""
	}
	defer c.Close()
	a, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return "", ""
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok && n.IP.Equal(a.IP) {
				return a.IP.String(), net.IP(n.Mask).String()
			}
		}
	}
	return a.IP.String(), ""
}

// LoadFreeSWITCH reads confDir/freeswitch.xml as FreeSWITCH does (the
// pre-processor from confDir, with the core variables) and takes its
// directory section. The error is non-nil only when freeswitch.xml cannot
// be read; every other finding is in Problems, with its file and line.
func LoadFreeSWITCH(confDir string, o DirectoryOptions) (*Directory, error) {
	o.ConfDir = confDir
	return load(filepath.Join(confDir, "freeswitch.xml"), confDir, o, true)
}

// LoadDirectory reads a lone directory file with the same pre-processor:
// a whole <document> (its directory section), a <section
// name="directory">, or what FreeSWITCH includes into that section (one or
// more <domain>, in an <include> or not). Global variables set elsewhere
// (vars.xml) are not seen: give them in o.Vars, or use LoadFreeSWITCH.
func LoadDirectory(file string, o DirectoryOptions) (*Directory, error) {
	return load(file, o.ConfDir, o, false)
}

func load(file, confDir string, o DirectoryOptions, whole bool) (*Directory, error) {
	core := o.CoreVars
	if core == nil {
		core = CoreVars(confDir)
	}
	pp, err := Preprocess(file, PreprocessOptions{ConfDir: confDir, Vars: core, Fixed: o.Vars, FS: o.FS, Getenv: o.Getenv})
	if err != nil {
		return nil, err
	}
	d := &Directory{File: file, Files: pp.Files, Vars: pp.Vars}
	text := pp.Text
	if !whole && !startsWithElement(text, "document") {
		// A directory file as FreeSWITCH includes it: put it where it goes.
		// The wrapper adds no line, so lines keep their numbers.
		wrap := "<document>"
		if !startsWithElement(text, "section") {
			wrap += `<section name="directory">`
		}
		tail := "</document>"
		if !startsWithElement(text, "section") {
			tail = "</section>" + tail
		}
		text = append(append([]byte(wrap), text...), tail...)
	}
	scan, serr := readSection(text)
	pos := func(line int) Pos { return pp.Pos(line) }
	if serr != nil {
		at := pos(serr.Line)
		msg := fmt.Sprintf("%s: %s", ErrSyntax, serr.Msg)
		if scan.openLine > 0 {
			msg += fmt.Sprintf(" (opened at %s)", pos(scan.openLine))
		}
		d.problems = append(d.problems, Problem{File: at.File, Line: at.Line, Severity: SeverityError, Message: msg})
	}
	from, to := 1, 1<<31-1
	switch {
	case scan.section != nil && serr != nil && scan.sectionEnd == 0:
		// A directory section cut short: its users would be a guess.
		from = scan.section.line
	case scan.section != nil:
		from, to = scan.section.line, scan.sectionEnd
		if to == 0 { // not closed: a syntax error said so
			to = 1<<31 - 1
		}
		b := &dirBuilder{d: d, pos: pos, skipped: map[*xel]bool{}}
		b.section(scan.section)
		for _, l := range scan.others {
			at := pos(l)
			b.add(SeverityWarning, at, "a second <section name=\"directory\">: FreeSWITCH reads only the first (%s)", pos(scan.section.line))
		}
	case serr == nil && scan.root != "document":
		at := pos(scan.rootLine)
		d.problems = append(d.problems, Problem{File: at.File, Line: at.Line, Severity: SeverityError,
			Message: fmt.Sprintf("root element <%s>: FreeSWITCH's configuration is a <document>", scan.root)})
	case serr == nil:
		at := pos(scan.rootLine)
		d.problems = append(d.problems, Problem{File: at.File, Line: at.Line, Severity: SeverityError,
			Message: `no <section name="directory"> in <document>: no user can log in`})
	}
	d.problems = append(d.problems, pp.problemsIn(from, to)...)
	return d, nil
}

// startsWithElement reports whether the first element of text is <tag>.
func startsWithElement(text []byte, tag string) bool {
	s := string(text)
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return false
		}
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "<!--"):
			e := strings.Index(s, "-->")
			if e < 0 {
				return false
			}
			s = s[e+3:]
		case strings.HasPrefix(s, "<?"), strings.HasPrefix(s, "<!"):
			e := strings.IndexByte(s, '>')
			if e < 0 {
				return false
			}
			s = s[e+1:]
		default:
			rest := s[1:]
			return strings.HasPrefix(rest, tag) && len(rest) > len(tag) && strings.IndexByte(" \t\r\n/>", rest[len(tag)]) >= 0
		}
	}
}

// Problems returns what was found while reading, sorted by file and line:
// pre-processor findings in (or used by) the directory section, XML faults,
// and places where FreeSWITCH would not find a user the file seems to
// define.
func (d *Directory) Problems() Problems {
	ps := append(Problems(nil), d.problems...)
	ps.sort()
	return ps
}

// Err returns the error-severity problems, or nil: with any, the directory
// is not what FreeSWITCH would read (a file that cannot be read or parsed,
// a command XCtrl does not run).
func (d *Directory) Err() error { return d.Problems().Err() }

// UserCount is the number of users a login can reach.
func (d *Directory) UserCount() int {
	n := 0
	for _, dom := range d.Domains {
		n += len(dom.Users)
	}
	return n
}

// StockPassword is FreeSWITCH's stock default_password (vars.xml), which
// its stock directory gives every user.
const StockPassword = "1234"

// UsersWithPassword lists the users (id@domain) that log in with pw as
// their own id and domain: with StockPassword, the users anyone who read
// FreeSWITCH's stock config can log in as.
func (d *Directory) UsersWithPassword(pw string) []string {
	var out []string
	for _, dom := range d.Domains {
		for _, u := range dom.Users {
			if !u.Pointer && u.CheckPassword(u.ID, u.Domain, pw) {
				out = append(out, u.Login())
			}
		}
	}
	return out
}

// Domain returns the domain FreeSWITCH would use for name: the first whose
// name matches case-insensitively.
func (d *Directory) Domain(name string) (*Domain, bool) {
	for _, dom := range d.Domains {
		if strings.EqualFold(dom.Name, name) {
			return dom, true
		}
	}
	return nil, false
}

// Lookup finds a user as switch_xml_locate_user does for mod_verto's
// login (key "id"): in the domain's groups in order (each group's first
// <users>), then in the domain's <users>, or, without one, directly in the
// domain. In each place the first <user> whose id or number-alias matches
// case-insensitively wins, and so does, as in FreeSWITCH, a <user> with a
// type other than "pointer" whatever its id (Problems warns about it).
// A type="pointer" entry met before the definition is what FreeSWITCH
// returns, too (User.Pointer).
func (d *Directory) Lookup(id, domain string) (*User, bool) {
	if d == nil || id == "" {
		return nil, false
	}
	dom, ok := d.Domain(domain)
	if !ok {
		return nil, false
	}
	c, i := dom.find(id)
	if c == nil {
		return nil, false
	}
	return c.merged[i], true
}

func (dom *Domain) find(id string) (*container, int) {
	key := asciiLower(id)
	for _, c := range dom.search {
		best := c.typed
		for _, m := range []map[string]int{c.byID, c.byAlias} {
			if i, ok := m[key]; ok && (best < 0 || i < best) {
				best = i
			}
		}
		if best >= 0 {
			return c, best
		}
	}
	return nil, -1
}

// dirBuilder turns the directory section into domains and users.
type dirBuilder struct {
	d       *Directory
	pos     func(line int) Pos
	skipped map[*xel]bool // domains no login reaches: their users are not reported again
}

func (b *dirBuilder) add(sev Severity, at Pos, format string, args ...any) {
	b.d.problems = append(b.d.problems, Problem{File: at.File, Line: at.Line, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (b *dirBuilder) at(e *xel) Pos { return b.pos(e.line) }

func (b *dirBuilder) section(sec *xel) {
	searched := map[*xel]bool{}
	for _, el := range sec.kids {
		if el.tag == "domain" {
			b.domain(el, searched)
		}
	}
	// <user> and <domain> elements FreeSWITCH never looks at.
	sec.walk(func(e *xel) {
		switch {
		case e.tag == "domain" && e.parent != sec:
			b.add(SeverityWarning, b.at(e), "<domain> in <%s> (%s): FreeSWITCH looks for domains directly in <section name=\"directory\"> only",
				e.parent.tag, b.at(e.parent))
		case e.tag == "user" && !searched[e] && e.parent != nil && !b.inIgnored(e):
			b.add(SeverityWarning, b.at(e), "FreeSWITCH never finds this <user> (in <%s>, %s): users go in <domain>, in the domain's first <users>, "+
				"or in the first <users> of a <group> of the domain's first <groups>", e.parent.tag, b.at(e.parent))
		}
	})
}

// inIgnored: e is inside an element reported as ignored already (a second
// <groups>, <users> ...) or in a domain that is never used.
func (b *dirBuilder) inIgnored(e *xel) bool {
	for p := e.parent; p != nil; p = p.parent {
		if p.tag == "gateways" || p.tag == "gateway" || b.skipped[p] {
			return true
		}
		if parent := p.parent; parent != nil {
			switch p.tag {
			case "groups", "users", "params", "variables":
				if parent.child(p.tag) != p {
					return true
				}
			}
		}
	}
	return false
}

func (b *dirBuilder) domain(el *xel, searched map[*xel]bool) {
	name, _ := el.attr("name")
	if name == "" {
		b.add(SeverityWarning, b.at(el), "<domain> without a name: no login reaches it")
		b.skipped[el] = true
		return
	}
	if prev, dup := b.d.Domain(name); dup {
		b.add(SeverityWarning, b.at(el), "domain %q is defined again: FreeSWITCH uses the first (%s:%d)", name, prev.File, prev.Line)
		b.skipped[el] = true
		return
	}
	at := b.at(el)
	dom := &Domain{Name: name, File: at.File, Line: at.Line}
	b.onlyFirst(el, "params", "variables", "groups", "users")
	dom.Params = b.pairs(el.child("params"), "param")
	dom.Variables = b.pairs(el.child("variables"), "variable")
	if groups := el.child("groups"); groups != nil {
		for _, g := range groups.children("group") {
			b.onlyFirst(g, "users", "params", "variables")
			if users := g.child("users"); users != nil {
				gname, _ := g.attr("name")
				dom.search = append(dom.search, b.container(dom, users, g, gname))
			}
		}
	}
	if users := el.child("users"); users != nil {
		dom.search = append(dom.search, b.container(dom, users, nil, ""))
	} else {
		dom.search = append(dom.search, b.container(dom, el, nil, ""))
	}
	for _, c := range dom.search {
		for _, u := range c.users {
			searched[u] = true
		}
	}
	b.d.Domains = append(b.d.Domains, dom)
	b.users(dom)
}

// onlyFirst warns about a second child with one of the tags: FreeSWITCH
// reads the first only.
func (b *dirBuilder) onlyFirst(el *xel, tags ...string) {
	for _, tag := range tags {
		if all := el.children(tag); len(all) > 1 {
			for _, e := range all[1:] {
				b.add(SeverityWarning, b.at(e), "a second <%s> in <%s>: FreeSWITCH reads only the first (%s); this one is ignored", tag, el.tag, b.at(all[0]))
			}
		}
	}
}

// container indexes the <user> children of one place FreeSWITCH looks in
// and merges each with its group and domain.
func (b *dirBuilder) container(dom *Domain, el, group *xel, gname string) *container {
	c := &container{el: el, group: gname, users: el.children("user"), byID: map[string]int{}, byAlias: map[string]int{}, typed: -1}
	var gParams, gVars []Pair
	if group != nil {
		gParams = b.pairs(group.child("params"), "param")
		gVars = b.pairs(group.child("variables"), "variable")
	}
	for i, u := range c.users {
		id, hasID := u.attr("id")
		alias, hasAlias := u.attr("number-alias")
		typ, hasType := u.attr("type")
		if hasID {
			if _, dup := c.byID[asciiLower(id)]; !dup {
				c.byID[asciiLower(id)] = i
			}
		}
		if hasAlias {
			if _, dup := c.byAlias[asciiLower(alias)]; !dup {
				c.byAlias[asciiLower(alias)] = i
			}
		}
		pointer := hasType && strings.EqualFold(typ, "pointer")
		if hasType && !pointer {
			if c.typed < 0 {
				c.typed = i
			}
			b.add(SeverityWarning, b.at(u), "<user type=%q>: FreeSWITCH's lookup takes a <user> with any type but \"pointer\" for every login name in this place, whatever its id", typ)
		}
		if !hasID && !hasAlias && !hasType {
			b.add(SeverityWarning, b.at(u), "<user> without an id: no login reaches it")
		}
		b.onlyFirst(u, "params", "variables")
		at := b.at(u)
		params := mergePairs(b.pairs(u.child("params"), "param"), gParams, dom.Params)
		vars := mergePairs(b.pairs(u.child("variables"), "variable"), gVars, dom.Variables)
		mu := &User{ID: id, NumberAlias: alias, Domain: dom.Name, Group: gname, Pointer: pointer,
			File: at.File, Line: at.Line, Params: params, Variables: make(map[string]string, len(vars))}
		for _, v := range vars {
			mu.Variables[v.Name] = v.Value
		}
		c.merged = append(c.merged, mu)
	}
	return c
}

// users lists what logins reach in dom and reports definitions FreeSWITCH
// never returns.
func (b *dirBuilder) users(dom *Domain) {
	groups := map[string][]string{}
	defined := map[string]bool{}
	for _, c := range dom.search {
		for i, u := range c.users {
			if id, ok := u.attr("id"); ok {
				key := asciiLower(id)
				if c.group != "" && !slices.Contains(groups[key], c.group) {
					groups[key] = append(groups[key], c.group)
				}
				if !c.merged[i].Pointer {
					defined[key] = true
				}
			}
		}
	}
	seen := map[*User]bool{}
	for _, c := range dom.search {
		for i, u := range c.users {
			mine := c.merged[i]
			id, hasID := u.attr("id")
			if hasID && mine.Pointer && !defined[asciiLower(id)] {
				b.add(SeverityWarning, b.at(u), "domain %q: group %q points to user %q, which is defined nowhere in the domain", dom.Name, c.group, id)
			}
			for _, name := range []string{"id", "number-alias"} {
				v, ok := u.attr(name)
				if !ok || v == "" {
					continue
				}
				fc, j := dom.find(v)
				got := fc.merged[j]
				if !seen[got] {
					seen[got] = true
					dom.Users = append(dom.Users, got)
				}
				if got == mine || mine.Pointer {
					continue
				}
				where := fmt.Sprintf("%s:%d", got.File, got.Line)
				switch {
				case got.Pointer:
					b.add(SeverityWarning, b.at(u), "user %q: a login as %q gets the type=\"pointer\" entry of group %q (%s), which FreeSWITCH finds first; "+
						"it has no password of its own (put group %q before group %q)", id, v, got.Group, where, c.group, got.Group)
				case name == "id" && strings.EqualFold(got.ID, v):
					b.add(SeverityWarning, b.at(u), "user %q is defined again: FreeSWITCH uses the first (%s)", id, where)
				default:
					b.add(SeverityWarning, b.at(u), "user %q: a login as %q (its %s) finds user %q (%s) instead", id, v, name, got.ID, where)
				}
			}
		}
	}
	for _, u := range dom.Users {
		u.Groups = groups[asciiLower(u.ID)]
	}
}

// pairs reads the <tag name= value=> children of el (nil: none) in order,
// and checks the values mod_verto reads.
func (b *dirBuilder) pairs(el *xel, tag string) []Pair {
	if el == nil {
		return nil
	}
	var out []Pair
	for _, c := range el.children(tag) {
		name, ok := c.attr("name")
		if !ok || name == "" {
			b.add(SeverityWarning, b.at(c), "<%s> without a name is ignored", tag)
			continue
		}
		value, _ := c.attr("value")
		out = append(out, Pair{Name: name, Value: value})
		if tag == "param" {
			if msg := checkParam(name, value); msg != "" {
				b.add(SeverityWarning, b.at(c), "param %q: %s", name, msg)
			}
		}
	}
	return out
}

// checkParam reports a param value mod_verto reads in a way its writer
// probably did not mean.
func checkParam(name, value string) string {
	switch strings.ToLower(name) {
	case ParamA1Hash:
		if len(value) != 32 || strings.Trim(value, "0123456789abcdef") != "" {
			return "not 32 lower-case hex digits: mod_verto compares the md5 of \"id:domain:password\" with it as written, and no password matches"
		}
	case ParamAllowedMethods, ParamAllowedJSAPI, ParamAllowedFSAPI, ParamAllowedEventChannels:
		if strings.Contains(value, ",") && strings.Contains(value, " ") {
			return "holds commas and spaces: mod_verto then splits at spaces only, so a name keeps its comma"
		}
	}
	return ""
}

// mergePairs is switch_xml_merge_user's do_merge over the user's, the
// group's and the domain's pairs: the user's all, then each other pair
// whose name (case-insensitive) is not there yet.
func mergePairs(own []Pair, layers ...[]Pair) []Pair {
	out := slices.Clone(own)
	have := map[string]bool{}
	for _, p := range own {
		have[asciiLower(p.Name)] = true
	}
	for _, l := range layers {
		for _, p := range l {
			if k := asciiLower(p.Name); !have[k] {
				have[k] = true
				out = append(out, p)
			}
		}
	}
	return out
}
