package conf

import (
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// SettingsScope is the profile argument of Set, Add and Unset that addresses
// <settings> instead of a profile.
const SettingsScope = ""

// WriteTo writes the configuration document: what was read, with the edits
// made by Set, Add, Unset and AddProfile. Comments, whitespace and the order of
// untouched elements are kept.
func (c *Config) WriteTo(w io.Writer) (int64, error) {
	if c.doc == nil {
		return 0, fmt.Errorf("conf: %w", ErrNoConfiguration)
	}
	n, err := c.doc.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("conf: write %s: %w", c.File, err)
	}
	return n, nil
}

// Set gives param the value in the named profile, or in <settings> when
// profile is SettingsScope. An existing param is changed in place (for a
// repeatable param the first is changed and the others removed); a new one is
// added after the last param. The value is checked unless it holds a $${name}
// reference. Errors wrap ErrUnknownProfile, ErrUnknownParam or ErrBadValue.
func (c *Config) Set(profile, param, value string) error {
	return c.edit(profile, param, value, false)
}

// Add appends one more value of a repeatable param (rtp-ip,
// apply-candidate-acl) after its last occurrence. For other params it is Set.
func (c *Config) Add(profile, param, value string) error {
	return c.edit(profile, param, value, true)
}

// Unset removes every occurrence of param, so its default applies again. It is
// not an error if the param was not set.
func (c *Config) Unset(profile, param string) error {
	container, scope, err := c.container(profile, false)
	if err != nil {
		return err
	}
	if _, err := c.spec(scope, param); err != nil {
		return err
	}
	if container != nil {
		for _, el := range paramElements(container, param) {
			removeWithSpace(el)
		}
	}
	c.build()
	return nil
}

// AddProfile appends an empty <profile name=...> to <profiles>, creating
// <profiles> if needed. Fill it with Set. The error wraps ErrDuplicate when the
// profile exists.
func (c *Config) AddProfile(name string) error {
	if name == "" || strings.ContainsAny(name, "/@;{},= \t\r\n") {
		return fmt.Errorf("conf: profile name %q: %w: not usable in a dial string", name, ErrBadValue)
	}
	if _, ok := c.Profile(name); ok {
		return fmt.Errorf("conf: profile %q: %w", name, ErrDuplicate)
	}
	root := c.configuration()
	if root == nil {
		return fmt.Errorf("conf: %s: %w", c.File, ErrNoConfiguration)
	}
	profiles := root.SelectElement("profiles")
	if profiles == nil {
		profiles = etree.NewElement("profiles")
		insertChild(root, profiles)
	}
	p := etree.NewElement("profile")
	p.CreateAttr("name", name)
	insertChild(profiles, p)
	c.build()
	return nil
}

func (c *Config) edit(profile, param, value string, add bool) error {
	container, scope, err := c.container(profile, true)
	if err != nil {
		return err
	}
	spec, err := c.spec(scope, param)
	if err != nil {
		return err
	}
	if !hasRef(value) {
		if _, err := parseValue(spec, value); err != nil {
			return fmt.Errorf("conf: %s param %q: %w", scope, spec.Name, err)
		}
	}
	existing := paramElements(container, spec.Name)
	switch {
	case len(existing) > 0 && (!add || !spec.Repeatable):
		existing[0].CreateAttr("value", value) // replaces the value, keeps the position
		for _, el := range existing[1:] {
			removeWithSpace(el)
		}
	default:
		el := etree.NewElement("param")
		el.CreateAttr("name", spec.Name)
		el.CreateAttr("value", value)
		if len(existing) > 0 {
			insertAfter(existing[len(existing)-1], el)
		} else {
			insertChild(container, el)
		}
	}
	c.build()
	return nil
}

// container returns the element holding the params of profile (or settings)
// and its scope. With create, a missing <settings> is added.
func (c *Config) container(profile string, create bool) (*etree.Element, Scope, error) {
	root := c.configuration()
	if root == nil {
		return nil, 0, fmt.Errorf("conf: %s: %w", c.File, ErrNoConfiguration)
	}
	if profile == SettingsScope {
		s := root.SelectElement("settings")
		if s == nil && create {
			s = etree.NewElement("settings")
			insertChild(root, s)
			// <settings> reads best first.
			if first := root.ChildElements()[0]; first != s {
				moveBefore(s, first)
			}
		}
		return s, ScopeSettings, nil
	}
	for _, ps := range root.SelectElements("profiles") {
		for _, p := range ps.SelectElements("profile") {
			if p.SelectAttrValue("name", "") == profile {
				return p, ScopeProfile, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("conf: %w %q", ErrUnknownProfile, profile)
}

// spec finds an applicable param spec or explains why there is none.
func (c *Config) spec(scope Scope, param string) (ParamSpec, error) {
	s, ok := LookupParam(scope, param)
	switch {
	case !ok:
		return s, fmt.Errorf("conf: %w %q: %s", ErrUnknownParam, param, unknownParamMessage(scope, param))
	case s.NotApplicable != "":
		return s, fmt.Errorf("conf: %w %q: has no meaning for xrtc: %s", ErrUnknownParam, param, s.NotApplicable)
	}
	return s, nil
}

// paramElements returns the <param> children of el named name (any case).
func paramElements(el *etree.Element, name string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return nil
	}
	for _, p := range el.SelectElements("param") {
		if strings.EqualFold(p.SelectAttrValue("name", ""), name) {
			out = append(out, p)
		}
	}
	return out
}

// indentOf returns the indentation in front of token t ("" if unknown).
func indentOf(t etree.Token) string {
	p := t.Parent()
	if p == nil || t.Index() == 0 {
		return ""
	}
	if cd, ok := p.Child[t.Index()-1].(*etree.CharData); ok && isBlank(cd) {
		if i := strings.LastIndexByte(cd.Data, '\n'); i >= 0 {
			return cd.Data[i+1:]
		}
	}
	return ""
}

// insertChild adds el as the last child of parent that is an element or a
// comment, indented like the existing children, or one step deeper than the
// parent when it has none.
func insertChild(parent, el *etree.Element) {
	var anchor etree.Token
	for _, t := range parent.Child {
		switch t.(type) {
		case *etree.Element, *etree.Comment:
			anchor = t
		}
	}
	if anchor != nil {
		parent.InsertChildAt(anchor.Index()+1, el)
		parent.InsertChildAt(el.Index(), etree.NewText("\n"+indentOf(anchor)))
		return
	}
	outer := indentOf(parent)
	for len(parent.Child) > 0 {
		parent.RemoveChildAt(0) // only blank text is left
	}
	parent.AddChild(etree.NewText("\n" + outer + "  "))
	parent.AddChild(el)
	parent.AddChild(etree.NewText("\n" + outer))
}

// insertAfter puts el on its own line right after sibling, same indentation.
func insertAfter(sibling, el *etree.Element) {
	p := sibling.Parent()
	p.InsertChildAt(sibling.Index()+1, el)
	p.InsertChildAt(el.Index(), etree.NewText("\n"+indentOf(sibling)))
}

// insertBefore puts el on its own line right before sibling, same indentation.
func insertBefore(sibling etree.Token, el etree.Token) {
	p := sibling.Parent()
	indent := indentOf(sibling)
	p.InsertChildAt(sibling.Index(), el)
	p.InsertChildAt(sibling.Index(), etree.NewText("\n"+indent))
}

// moveBefore moves el (with its indentation) in front of sibling.
func moveBefore(el, sibling *etree.Element) {
	removeWithSpace(el)
	insertBefore(sibling, el)
}

// removeWithSpace removes t and the blank text in front of it, so that no
// empty line is left behind.
func removeWithSpace(t etree.Token) {
	p := t.Parent()
	if p == nil {
		return
	}
	i := t.Index()
	if i > 0 {
		if cd, ok := p.Child[i-1].(*etree.CharData); ok && isBlank(cd) {
			p.RemoveChildAt(i - 1)
		}
	}
	p.RemoveChild(t)
}

// isBlank reports whether cd is whitespace only. etree's IsWhitespace is not
// set on text created in code, so test the data itself.
func isBlank(cd *etree.CharData) bool {
	return !cd.IsCData() && strings.TrimSpace(cd.Data) == ""
}
