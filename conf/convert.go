package conf

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// ConvertOptions tune Convert.
type ConvertOptions struct {
	// Output names the converted file in its problems (default
	// "xcc-rtc.conf.xml").
	Output string

	// KeepNames keeps every profile name. By default, when no profile is called
	// "default", one is renamed to "default": "default-v4" if there is one,
	// else the first profile. mod_verto dial strings (verto.rtc/user@domain)
	// never name a profile, so nothing depended on the old name, while
	// xrtc/user@domain needs a "default" profile.
	KeepNames bool
}

// addedParams are the xcc-only params Convert writes at the top of every
// profile that lacks them, with their defaults.
var addedParams = []string{"xrtc-ctrl-subject", "media-timeout"}

// Convert turns a mod_verto verto.conf.xml (file names it in the report) into
// an xcc-rtc.conf.xml. It renames the configuration, keeps the params that
// mean something to xrtc with their comments and order, drops the others
// (mod_verto's WebSocket, TLS, auth and multicast params, <vhosts>, unknown
// params and elements), adds xrtc-ctrl-subject and media-timeout to each
// profile, and makes sure a "default" profile exists (see ConvertOptions).
//
// The report lists, as warnings on the input's lines, each dropped item and
// why, each rename and each addition. The error is non-nil only for input
// that is not XML or has no <configuration>.
func Convert(file string, verto []byte, opts ConvertOptions) (*Config, Problems, error) {
	doc, lines, err := readDocument(file, verto)
	if err != nil {
		return nil, nil, err
	}
	if opts.Output == "" {
		opts.Output = "xcc-rtc.conf.xml"
	}
	cv := &converter{file: file, lines: lines}
	root := (&Config{doc: doc}).configuration()
	if root == nil {
		return nil, nil, fmt.Errorf("conf: convert %s: %w", file, ErrNoConfiguration)
	}
	if name := root.SelectAttrValue("name", ""); name != "verto.conf" {
		cv.note(lines[root], "", "", "configuration name is %q, expected \"verto.conf\"; converting anyway", name)
	}
	root.CreateAttr("name", ConfigName)
	root.CreateAttr("description", "XCC RTC (converted from verto.conf)")

	var profiles []*etree.Element
	for _, el := range root.ChildElements() {
		switch el.FullTag() {
		case "settings":
			cv.params(el, ScopeSettings, "")
		case "profiles":
			for _, p := range el.ChildElements() {
				if p.FullTag() != "profile" {
					cv.drop(p, ScopeProfile, "", "", "unknown element <%s> in <profiles>", p.FullTag())
					continue
				}
				name := p.SelectAttrValue("name", "")
				cv.params(p, ScopeProfile, name)
				cv.addDefaults(p, name)
				profiles = append(profiles, p)
			}
		default:
			cv.drop(el, ScopeProfile, "", "", "unknown element <%s> in <configuration>", el.FullTag())
		}
	}
	cv.ensureDefault(profiles, opts.KeepNames)

	var out bytes.Buffer
	if _, err := doc.WriteTo(&out); err != nil {
		return nil, nil, fmt.Errorf("conf: convert %s: %w", file, err)
	}
	cfg, err := Parse(opts.Output, out.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("conf: convert %s: re-read: %w", file, err)
	}
	cv.report.sort()
	return cfg, cv.report, nil
}

type converter struct {
	file   string
	lines  map[*etree.Element]int
	report Problems
}

func (cv *converter) note(line int, profile, param, format string, args ...any) {
	cv.noteIn(ScopeProfile, line, profile, param, format, args...)
}

func (cv *converter) noteIn(scope Scope, line int, profile, param, format string, args ...any) {
	cv.report = append(cv.report, Problem{File: cv.file, Line: line, Profile: profile, Param: param, Scope: scope,
		Severity: SeverityWarning, Message: fmt.Sprintf(format, args...)})
}

// drop removes el (and a comment right above it, which describes it) and
// reports why.
func (cv *converter) drop(el *etree.Element, scope Scope, profile, param, format string, args ...any) {
	cv.noteIn(scope, cv.lines[el], profile, param, "dropped: "+format, args...)
	if c := commentAbove(el); c != nil {
		removeWithSpace(c)
	}
	removeWithSpace(el)
}

// params keeps the params of el that mean something in scope and drops the rest.
func (cv *converter) params(el *etree.Element, scope Scope, profile string) {
	for _, pe := range el.ChildElements() {
		tag := pe.FullTag()
		if tag == "vhosts" && scope == ScopeProfile {
			cv.drop(pe, scope, profile, "vhosts", "%s", whyNoHTTP)
			continue
		}
		if tag != "param" {
			cv.drop(pe, scope, profile, "", "unknown element <%s>", tag)
			continue
		}
		name := pe.SelectAttrValue("name", "")
		spec, ok := LookupParam(scope, name)
		switch {
		case !ok:
			cv.drop(pe, scope, profile, name, "%s", unknownParamMessage(scope, name))
		case spec.NotApplicable != "":
			cv.drop(pe, scope, profile, name, "%s", spec.NotApplicable)
		}
	}
}

// addDefaults puts the xcc-only params at the top of a profile that lacks them.
func (cv *converter) addDefaults(p *etree.Element, profile string) {
	var added []string
	var first etree.Token
	for _, t := range p.Child {
		switch t.(type) {
		case *etree.Element, *etree.Comment:
			if first == nil {
				first = t
			}
		}
	}
	for _, name := range addedParams {
		if len(paramElements(p, name)) > 0 {
			continue
		}
		spec, _ := LookupParam(ScopeProfile, name)
		comment := etree.NewComment(" " + spec.Doc + " (added by xrtc-conf convert) ")
		param := etree.NewElement("param")
		param.CreateAttr("name", spec.Name)
		param.CreateAttr("value", spec.Default)
		if first == nil {
			insertChild(p, param)
			insertBefore(param, comment)
		} else {
			insertBefore(first, comment)
			insertBefore(first, param)
		}
		added = append(added, fmt.Sprintf("%s=%s", spec.Name, spec.Default))
	}
	if len(added) > 0 {
		cv.note(cv.lines[p], profile, "", "added %s", strings.Join(added, ", "))
	}
}

// ensureDefault renames a profile to "default" when none has that name.
func (cv *converter) ensureDefault(profiles []*etree.Element, keep bool) {
	if len(profiles) == 0 {
		return
	}
	pick := profiles[0]
	for _, p := range profiles {
		switch p.SelectAttrValue("name", "") {
		case DefaultProfile:
			return
		case "default-v4":
			if pick == profiles[0] {
				pick = p
			}
		}
	}
	old := pick.SelectAttrValue("name", "")
	if keep {
		cv.note(cv.lines[pick], "", "", "no %q profile: dial strings without a profile (xrtc/user@domain) will fail", DefaultProfile)
		return
	}
	pick.CreateAttr("name", DefaultProfile)
	cv.note(cv.lines[pick], old, "", "renamed to %q: xrtc/user@domain dial strings use the %q profile, and mod_verto dial strings never named one",
		DefaultProfile, DefaultProfile)
}

// commentAbove returns the comment on the line right above el, if any.
func commentAbove(el *etree.Element) *etree.Comment {
	p, i := el.Parent(), el.Index()
	if p == nil || i < 2 {
		return nil
	}
	ws, ok := p.Child[i-1].(*etree.CharData)
	if !ok || !isBlank(ws) || strings.Count(ws.Data, "\n") != 1 {
		return nil
	}
	c, _ := p.Child[i-2].(*etree.Comment)
	return c
}
