package conf

import (
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/beevik/etree"
)

// Directory is a FreeSWITCH user directory as XCtrl uses it to log users in:
// domains with their users, params and variables. It is read from a whole
// <document><section name="directory">, a bare <domain>, or an <include>
// wrapping domains. Like Config it keeps $${name} references as written until
// Resolve.
type Directory struct {
	File    string
	Domains []*Domain

	doc      *etree.Document
	lines    map[*etree.Element]int
	vars     map[string]string
	unres    *refCollector
	problems Problems
}

// Domain is one <domain name=...>.
type Domain struct {
	Name      string
	Line      int
	Params    map[string]string // <params>, names lower-cased
	Variables map[string]string // <variables>
	Users     []*User
}

// User is one <user id=...> with the params and variables in force: the
// domain's, then its group's, then its own (the last wins), as FreeSWITCH
// merges them.
type User struct {
	ID          string
	NumberAlias string
	Domain      string
	Groups      []string // groups listing the user, in document order
	Line        int
	Params      map[string]string // names lower-cased
	Variables   map[string]string
}

// LoadDirectory reads a directory file. The error is non-nil only when the
// file cannot be read or is not XML; other findings are in Problems.
func LoadDirectory(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	return ParseDirectory(path, data)
}

// ParseDirectory parses directory XML held in data; file names it in problems.
func ParseDirectory(file string, data []byte) (*Directory, error) {
	doc, lines, err := readDocument(file, data)
	if err != nil {
		return nil, err
	}
	d := &Directory{File: file, doc: doc, lines: lines}
	d.build()
	return d, nil
}

// Resolve returns a copy with every $${name} in domain names, user ids,
// params and variables replaced from vars. X-PRE-PROCESS cmd="set" lines in
// the file add to (and override) vars, as FreeSWITCH's pre-processor would.
// Missing names make it fail with an *UnresolvedError.
func (d *Directory) Resolve(vars map[string]string) (*Directory, error) {
	v := maps.Clone(vars)
	if v == nil {
		v = map[string]string{}
	}
	r := &Directory{File: d.File, doc: d.doc, lines: d.lines, vars: v}
	r.build()
	if err := r.unres.err(d.File); err != nil {
		return nil, err
	}
	return r, nil
}

// Problems returns what was found wrong while reading: duplicate domains or
// users, users without id, pointers to unknown users, ignored elements.
func (d *Directory) Problems() Problems {
	ps := append(Problems(nil), d.problems...)
	ps.sort()
	return ps
}

// Lookup finds a user by id or number-alias in a domain (domain names match
// case-insensitively).
func (d *Directory) Lookup(user, domain string) (*User, bool) {
	for _, dom := range d.Domains {
		if !strings.EqualFold(dom.Name, domain) {
			continue
		}
		for _, u := range dom.Users {
			if u.ID == user {
				return u, true
			}
		}
		for _, u := range dom.Users {
			if u.NumberAlias != "" && u.NumberAlias == user {
				return u, true
			}
		}
	}
	return nil, false
}

// Domain returns the domain with that name.
func (d *Directory) Domain(name string) (*Domain, bool) {
	for _, dom := range d.Domains {
		if strings.EqualFold(dom.Name, name) {
			return dom, true
		}
	}
	return nil, false
}

func (d *Directory) build() {
	d.Domains = nil
	d.problems = nil
	d.unres = nil
	if d.vars != nil {
		for _, pp := range findAll(d.doc, "X-PRE-PROCESS") {
			if pp.SelectAttrValue("cmd", "") == "set" {
				if k, v, ok := strings.Cut(pp.SelectAttrValue("data", ""), "="); ok {
					d.vars[strings.TrimSpace(k)] = v
				}
			}
		}
		d.unres = newRefCollector(d.vars)
	}
	root := d.doc.Root()
	if root == nil {
		d.addf(SeverityError, 1, "no root element")
		return
	}
	switch root.FullTag() {
	case "document":
		found := false
		for _, sec := range root.SelectElements("section") {
			if sec.SelectAttrValue("name", "") != "directory" {
				continue
			}
			found = true
			d.container(sec)
		}
		if !found {
			d.addf(SeverityError, d.lines[root], "no <section name=\"directory\"> in <document>")
		}
	case "include":
		d.container(root)
	case "domain":
		d.domain(root)
	default:
		d.addf(SeverityError, d.lines[root], "root element <%s> is not <document>, <include> or <domain>", root.FullTag())
	}
}

// container reads the domains inside a <section> or <include>.
func (d *Directory) container(el *etree.Element) {
	for _, c := range el.ChildElements() {
		switch c.FullTag() {
		case "domain":
			d.domain(c)
		case "include":
			d.container(c)
		case "X-PRE-PROCESS":
			d.preprocess(c)
		default:
			d.ignored(c, el)
		}
	}
}

// userDef is a user definition waiting for its effective params.
type userDef struct {
	user        *User
	groupParams map[string]string
	groupVars   map[string]string
	params      map[string]string
	vars        map[string]string
}

func (d *Directory) domain(el *etree.Element) {
	dom := &Domain{Name: d.expand(el.SelectAttrValue("name", ""), el), Line: d.lines[el],
		Params: map[string]string{}, Variables: map[string]string{}}
	if dom.Name == "" {
		d.addf(SeverityError, dom.Line, "<domain> without a name")
		return
	}
	if prev, dup := d.Domain(dom.Name); dup {
		d.addf(SeverityError, dom.Line, "duplicate domain %q (first at line %d)", dom.Name, prev.Line)
		return
	}
	var (
		defs     []*userDef
		pointers []struct {
			id, group string
			line      int
		}
	)
	readUsers := func(users *etree.Element, group string, gp, gv map[string]string) {
		for _, ue := range users.ChildElements() {
			switch ue.FullTag() {
			case "user":
			case "X-PRE-PROCESS":
				d.preprocess(ue)
				continue
			default:
				d.ignored(ue, users)
				continue
			}
			id := d.expand(ue.SelectAttrValue("id", ""), ue)
			if ue.SelectAttrValue("type", "") == "pointer" {
				pointers = append(pointers, struct {
					id, group string
					line      int
				}{id, group, d.lines[ue]})
				continue
			}
			if id == "" {
				d.addf(SeverityError, d.lines[ue], "domain %q: <user> without an id", dom.Name)
				continue
			}
			u := &User{ID: id, NumberAlias: d.expand(ue.SelectAttrValue("number-alias", ""), ue),
				Domain: dom.Name, Line: d.lines[ue]}
			if group != "" {
				u.Groups = []string{group}
			}
			def := &userDef{user: u, groupParams: gp, groupVars: gv, params: map[string]string{}, vars: map[string]string{}}
			for _, c := range ue.ChildElements() {
				switch c.FullTag() {
				case "params":
					d.pairs(c, "param", def.params, true)
				case "variables":
					d.pairs(c, "variable", def.vars, false)
				case "gateways", "vcard", "X-PRE-PROCESS":
					// FreeSWITCH user data that login does not use.
				default:
					d.ignored(c, ue)
				}
			}
			defs = append(defs, def)
		}
	}
	for _, c := range el.ChildElements() {
		switch c.FullTag() {
		case "params":
			d.pairs(c, "param", dom.Params, true)
		case "variables":
			d.pairs(c, "variable", dom.Variables, false)
		case "users":
			readUsers(c, "", nil, nil)
		case "groups":
			for _, g := range c.ChildElements() {
				if g.FullTag() != "group" {
					d.ignored(g, c)
					continue
				}
				name := g.SelectAttrValue("name", "")
				gp, gv := map[string]string{}, map[string]string{}
				for _, gc := range g.ChildElements() {
					switch gc.FullTag() {
					case "users":
						readUsers(gc, name, gp, gv)
					case "params":
						d.pairs(gc, "param", gp, true)
					case "variables":
						d.pairs(gc, "variable", gv, false)
					default:
						d.ignored(gc, g)
					}
				}
			}
		case "X-PRE-PROCESS":
			d.preprocess(c)
		default:
			d.ignored(c, el)
		}
	}
	seen := map[string]*User{}
	for _, def := range defs {
		u := def.user
		if prev, dup := seen[u.ID]; dup {
			d.addf(SeverityError, u.Line, "domain %q: duplicate user %q (first at line %d)", dom.Name, u.ID, prev.Line)
			continue
		}
		seen[u.ID] = u
		u.Params = merge(dom.Params, def.groupParams, def.params)
		u.Variables = merge(dom.Variables, def.groupVars, def.vars)
		dom.Users = append(dom.Users, u)
	}
	for _, u := range dom.Users {
		if u.NumberAlias == "" {
			continue
		}
		if other, clash := seen[u.NumberAlias]; clash && other != u {
			d.addf(SeverityWarning, u.Line, "domain %q: number-alias %q of user %q is the id of another user; the id wins", dom.Name, u.NumberAlias, u.ID)
		}
	}
	for _, p := range pointers {
		u, ok := seen[p.id]
		if !ok {
			d.addf(SeverityWarning, p.line, "domain %q: group %q points to unknown user %q", dom.Name, p.group, p.id)
			continue
		}
		u.Groups = append(u.Groups, p.group)
	}
	d.Domains = append(d.Domains, dom)
}

// pairs reads <tag name= value=> children of el into dst.
func (d *Directory) pairs(el *etree.Element, tag string, dst map[string]string, lower bool) {
	for _, c := range el.ChildElements() {
		if c.FullTag() != tag {
			if c.FullTag() != "X-PRE-PROCESS" {
				d.ignored(c, el)
			}
			continue
		}
		name := c.SelectAttrValue("name", "")
		if name == "" {
			d.addf(SeverityWarning, d.lines[c], "<%s> without a name is ignored", tag)
			continue
		}
		if lower {
			name = strings.ToLower(name)
		}
		dst[name] = d.expand(c.SelectAttrValue("value", ""), c)
	}
}

func (d *Directory) preprocess(el *etree.Element) {
	if cmd := el.SelectAttrValue("cmd", ""); cmd != "set" {
		d.addf(SeverityWarning, d.lines[el], "X-PRE-PROCESS cmd=%q is not followed", cmd)
	}
}

func (d *Directory) ignored(el, parent *etree.Element) {
	d.addf(SeverityWarning, d.lines[el], "element <%s> in <%s> is ignored", el.FullTag(), parent.FullTag())
}

func (d *Directory) expand(v string, el *etree.Element) string {
	return d.unres.expand(v, d.lines[el])
}

func (d *Directory) addf(sev Severity, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.File, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// merge overlays the maps in order into a new map.
func merge(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		maps.Copy(out, l)
	}
	return out
}

// findAll returns every element with that tag, in document order.
func findAll(doc *etree.Document, tag string) []*etree.Element {
	var out []*etree.Element
	walkElements(&doc.Element, func(e *etree.Element) {
		if e.FullTag() == tag {
			out = append(out, e)
		}
	})
	return out
}
