package conf

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Load reads and parses an xcc-rtc.conf.xml file. The error is non-nil only
// when the file cannot be read or is not well-formed XML (*SyntaxError);
// content problems are returned by Config.Validate.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	return Parse(path, data)
}

// Parse parses an xcc-rtc.conf.xml held in data; file names it in problems.
// $${name} references are kept as written (see Resolve). Like Load it fails
// only on malformed XML.
func Parse(file string, data []byte) (*Config, error) {
	doc, lines, err := readDocument(file, data)
	if err != nil {
		return nil, err
	}
	c := &Config{File: file, doc: doc, lines: lines}
	c.build()
	return c, nil
}

// Resolve returns a copy of the configuration whose values have every
// $${name} reference replaced from vars, and whose typed fields and
// Validate result reflect the resolved values. References without a value
// make it fail with an *UnresolvedError naming them all. The copy's document
// (WriteTo) keeps the references as written.
func (c *Config) Resolve(vars map[string]string) (*Config, error) {
	doc, lines := copyDocument(c.doc, c.lines)
	v := maps.Clone(vars)
	if v == nil {
		v = map[string]string{}
	}
	r := &Config{File: c.File, doc: doc, lines: lines, vars: v}
	r.build()
	if err := r.unres.err(c.File); err != nil {
		return nil, err
	}
	return r, nil
}

// build derives the typed view and the structural problems from the document.
func (c *Config) build() {
	c.problems = nil
	c.Name = ""
	c.Settings = Settings{}
	c.Profiles = nil
	c.unres = nil
	if c.vars != nil {
		c.unres = newRefCollector(c.vars)
	}
	applyDefaults(ScopeSettings, func(s ParamSpec, v any) { c.Settings.apply(s, v) })

	root := c.configuration()
	if root == nil {
		line := 1
		if r := c.doc.Root(); r != nil {
			line = c.lines[r]
			c.addf(SeverityError, line, "", "", "root element <%s> is not <configuration name=%q>", r.FullTag(), ConfigName)
		} else {
			c.addf(SeverityError, line, "", "", "no <configuration name=%q> element", ConfigName)
		}
		return
	}
	c.Name = root.SelectAttrValue("name", "")
	switch {
	case c.Name == "verto.conf":
		c.addf(SeverityError, c.lines[root], "", "", "this is mod_verto's verto.conf; convert it with `xrtc-conf convert`")
	case c.Name != ConfigName:
		c.addf(SeverityError, c.lines[root], "", "", "configuration name is %q, want %q", c.Name, ConfigName)
	}
	c.checkAttrs(root, ScopeProfile, "", "", "name", "description")
	c.checkText(root, ScopeProfile, "", "")

	c.profilesLine = c.lines[root]
	var settings, profiles *etree.Element
	for _, el := range root.ChildElements() {
		switch el.FullTag() {
		case "settings":
			if settings != nil {
				c.addf(SeverityWarning, c.lines[el], "", "", "second <settings> element is ignored (first at line %d)", c.lines[settings])
				continue
			}
			settings = el
			c.buildSettings(el)
		case "profiles":
			if profiles != nil {
				c.addf(SeverityWarning, c.lines[el], "", "", "second <profiles> element is ignored (first at line %d)", c.lines[profiles])
				continue
			}
			profiles = el
			c.profilesLine = c.lines[el]
			c.buildProfiles(el)
		default:
			c.unknownElement(el, "configuration", "")
		}
	}
	if len(c.Profiles) == 0 {
		c.addf(SeverityWarning, c.profilesLine, "", "", "no <profile>: every call will fail until one is added")
	}
}

// configuration finds the <configuration> element: the root, or a child of an
// <include> root, or inside <document><section name="configuration">.
func (c *Config) configuration() *etree.Element {
	if c.doc == nil {
		return nil // a Config not made by Parse, Load, Resolve or Convert
	}
	root := c.doc.Root()
	if root == nil {
		return nil
	}
	switch root.FullTag() {
	case "configuration":
		return root
	case "include":
		return root.SelectElement("configuration")
	case "document":
		var first *etree.Element
		for _, sec := range root.SelectElements("section") {
			if sec.SelectAttrValue("name", "") != "configuration" {
				continue
			}
			for _, cf := range sec.SelectElements("configuration") {
				if cf.SelectAttrValue("name", "") == ConfigName {
					return cf
				}
				if first == nil {
					first = cf
				}
			}
		}
		return first
	}
	return nil
}

func (c *Config) buildSettings(el *etree.Element) {
	c.Settings.Line = c.lines[el]
	c.checkAttrs(el, ScopeSettings, "", "")
	c.checkText(el, ScopeSettings, "", "")
	c.Settings.Params = c.readParams(el, ScopeSettings, "", func(s ParamSpec, v any) { c.Settings.apply(s, v) })
}

func (c *Config) buildProfiles(el *etree.Element) {
	c.checkAttrs(el, ScopeProfile, "", "")
	c.checkText(el, ScopeProfile, "", "")
	first := map[string]int{}
	for _, pe := range el.ChildElements() {
		if pe.FullTag() != "profile" {
			c.unknownElement(pe, "profiles", "")
			continue
		}
		p := &Profile{Name: pe.SelectAttrValue("name", ""), Line: c.lines[pe]}
		c.checkAttrs(pe, ScopeProfile, p.Name, "", "name")
		c.checkText(pe, ScopeProfile, p.Name, "")
		switch {
		case p.Name == "":
			c.addf(SeverityWarning, p.Line, "", "", "<profile> without a name is ignored")
			continue
		case strings.ContainsAny(p.Name, "/@;{},= \t\r\n"):
			c.addf(SeverityWarning, p.Line, p.Name, "", "profile name cannot be used in a dial string (no / @ ; { } , = or spaces): calls to users cannot name it")
		}
		if l, dup := first[p.Name]; dup {
			c.addf(SeverityError, p.Line, p.Name, "", "duplicate profile (first at line %d)", l)
		} else {
			first[p.Name] = p.Line
		}
		applyDefaults(ScopeProfile, func(s ParamSpec, v any) { p.apply(s, v) })
		p.Params = c.readParams(pe, ScopeProfile, p.Name, func(s ParamSpec, v any) { p.apply(s, v) })
		if p.InboundCodecString == "" {
			p.InboundCodecString = p.OutboundCodecString
		}
		c.checkProfile(p)
		c.Profiles = append(c.Profiles, p)
	}
}

// applyDefaults sets every default of the scope through apply.
func applyDefaults(scope Scope, apply func(ParamSpec, any)) {
	for _, s := range specs {
		if s.Scope != scope || s.NotApplicable != "" || s.Default == "" {
			continue
		}
		v, err := parseValue(s, s.Default)
		if err != nil {
			panic("conf: bad default for " + s.Name + ": " + err.Error()) // a bug in the spec table
		}
		apply(s, v)
	}
}

// readParams reads the <param> children of el, reporting unknown names and
// elements, duplicates and bad values, and applies each good value.
func (c *Config) readParams(el *etree.Element, scope Scope, profile string, apply func(ParamSpec, any)) []Param {
	var (
		params []Param
		seen   = map[string]int{}
		where  = "settings"
	)
	if scope == ScopeProfile {
		where = "profile"
	}
	for _, pe := range el.ChildElements() {
		line := c.lines[pe]
		if pe.FullTag() != "param" {
			if scope == ScopeProfile && pe.FullTag() == "vhosts" {
				c.add(Problem{Line: line, Profile: profile, Param: "vhosts", Severity: SeverityWarning,
					Message: "has no meaning for xrtc: " + whyNoHTTP})
				continue
			}
			c.unknownElement(pe, where, profile)
			continue
		}
		nameAttr := pe.SelectAttr("name")
		if nameAttr == nil || nameAttr.Value == "" {
			c.addf(SeverityWarning, line, profile, "", "<param> without a name is ignored")
			continue
		}
		name := nameAttr.Value
		prob := func(sev Severity, format string, args ...any) {
			c.add(Problem{Line: line, Profile: profile, Param: name, Scope: scope, Severity: sev, Message: fmt.Sprintf(format, args...)})
		}
		valAttr := pe.SelectAttr("value")
		raw := ""
		if valAttr != nil {
			raw = valAttr.Value
		}
		value := c.unres.expand(raw, line)
		params = append(params, Param{Name: name, Value: value, Raw: raw, Line: line})
		c.checkText(pe, scope, profile, name)
		for _, ch := range pe.ChildElements() {
			c.unknownElement(ch, "param", profile)
		}

		spec, ok := LookupParam(scope, name)
		if !ok {
			prob(SeverityWarning, "ignored: %s", unknownParamMessage(scope, name))
			continue
		}
		extra := []string{"name", "value"}
		if spec.Name == "bind-local" {
			extra = append(extra, "secure")
		}
		c.checkAttrs(pe, scope, profile, name, extra...)
		if spec.NotApplicable != "" {
			prob(SeverityWarning, "has no meaning for xrtc: %s", spec.NotApplicable)
			continue
		}
		if valAttr == nil {
			prob(SeverityWarning, "ignored: no value attribute")
			continue
		}
		if strings.TrimSpace(value) == "" && (spec.Default != "" || spec.Repeatable) {
			// FreeSWITCH modules skip an empty value (mod_verto: !zstr(val)).
			prob(SeverityWarning, "ignored: empty value")
			continue
		}
		if first, dup := seen[spec.Name]; dup && !spec.Repeatable {
			// FreeSWITCH modules read params in order: the last one wins.
			prob(SeverityWarning, "set more than once (first at line %d): this later value is used", first)
		}
		seen[spec.Name] = line
		if hasRef(value) {
			apply(spec, rawRef(value))
			continue
		}
		v, err := parseValue(spec, value)
		if err != nil {
			prob(SeverityError, "%s", strings.TrimPrefix(err.Error(), ErrBadValue.Error()+": "))
			continue
		}
		apply(spec, v)
	}
	return params
}

// rawRef is a value that still holds a $${name} reference: string fields take
// it as written, typed fields keep their default.
type rawRef string

// checkProfile reports problems that involve more than one param.
func (c *Config) checkProfile(p *Profile) {
	if len(p.RTPIPs) == 0 && !p.hasValue("rtp-ip") {
		c.add(Problem{Line: p.Line, Profile: p.Name, Param: "rtp-ip", Severity: SeverityWarning,
			Message: "missing: calls with this profile fail (no media IP address), as on mod_verto"})
	}
	if p.MediaTimeout > 0 && p.MediaTimeout < time.Second {
		c.add(Problem{Line: c.paramLine(p, "media-timeout"), Profile: p.Name, Param: "media-timeout", Severity: SeverityWarning,
			Message: fmt.Sprintf("%d ms is shorter than 1 s: calls drop on short network hiccups", p.MediaTimeout.Milliseconds())})
	}
	if p.MediaHoldTimeout > 0 && p.MediaHoldTimeout < p.MediaTimeout {
		c.add(Problem{Line: c.paramLine(p, "media-hold-timeout"), Profile: p.Name, Param: "media-hold-timeout", Severity: SeverityWarning,
			Message: "shorter than media-timeout: a held call is dropped sooner than an active one"})
	}
}

func (c *Config) paramLine(p *Profile, name string) int {
	for _, q := range p.Params {
		if strings.EqualFold(q.Name, name) {
			return q.Line
		}
	}
	return p.Line
}

// unknownParamMessage explains an unknown parameter name, with a hint.
func unknownParamMessage(scope Scope, name string) string {
	other := ScopeProfile
	if scope == ScopeProfile {
		other = ScopeSettings
	}
	if s, ok := LookupParam(other, name); ok && s.NotApplicable == "" {
		return fmt.Sprintf("unknown %s param: it is a %s param", scope, other)
	}
	if hint := didYouMean(name, specNames(scope)); hint != "" {
		return fmt.Sprintf("unknown %s param; did you mean %q?", scope, hint)
	}
	return fmt.Sprintf("unknown %s param", scope)
}

func (c *Config) unknownElement(el *etree.Element, parent, profile string) {
	c.addf(SeverityWarning, c.lines[el], profile, "", "unknown element <%s> in <%s> is ignored", el.FullTag(), parent)
}

// checkAttrs warns about attributes other than the allowed ones.
func (c *Config) checkAttrs(el *etree.Element, scope Scope, profile, param string, allowed ...string) {
	for _, a := range el.Attr {
		known := false
		for _, k := range allowed {
			if a.FullKey() == k {
				known = true
			}
		}
		if !known {
			c.add(Problem{Line: c.lines[el], Profile: profile, Param: param, Scope: scope, Severity: SeverityWarning,
				Message: fmt.Sprintf("attribute %q of <%s> is ignored", a.FullKey(), el.FullTag())})
		}
	}
}

// checkText reports non-blank text directly inside el.
func (c *Config) checkText(el *etree.Element, scope Scope, profile, param string) {
	for _, t := range el.Child {
		if cd, ok := t.(*etree.CharData); ok && strings.TrimSpace(cd.Data) != "" {
			c.add(Problem{Line: c.lines[el], Profile: profile, Param: param, Scope: scope, Severity: SeverityWarning,
				Message: fmt.Sprintf("unexpected text %q in <%s> is ignored", clip(strings.TrimSpace(cd.Data), 40), el.FullTag())})
			return
		}
	}
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}

func (c *Config) addf(sev Severity, line int, profile, param, format string, args ...any) {
	c.add(Problem{Line: line, Profile: profile, Param: param, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (c *Config) add(p Problem) {
	p.File = c.File
	c.problems = append(c.problems, p)
}
