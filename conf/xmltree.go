package conf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// xel is an element of FreeSWITCH XML as switch_xml keeps it: tag,
// attributes in order, child elements in order, and the (pre-processed)
// line it starts on. Text is not kept: the directory has none that counts.
type xel struct {
	tag    string
	attrs  []xml.Attr
	kids   []*xel
	parent *xel
	line   int
}

// attr returns the first attribute with that exact name (switch_xml_attr).
func (e *xel) attr(name string) (string, bool) {
	for _, a := range e.attrs {
		if attrName(a.Name) == name {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first child element with that exact tag (switch_xml_child).
func (e *xel) child(tag string) *xel {
	for _, k := range e.kids {
		if k.tag == tag {
			return k
		}
	}
	return nil
}

// children returns the child elements with that exact tag, in order.
func (e *xel) children(tag string) []*xel {
	var out []*xel
	for _, k := range e.kids {
		if k.tag == tag {
			out = append(out, k)
		}
	}
	return out
}

// walk calls fn for e and every element below it, in document order.
func (e *xel) walk(fn func(*xel)) {
	fn(e)
	for _, k := range e.kids {
		k.walk(fn)
	}
}

func attrName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// sectionScan is how readSection found the document.
type sectionScan struct {
	openLine   int    // on a syntax error: the line of the innermost open element
	root       string // tag of the root element
	section    *xel   // the first <section name="directory">, nil if none
	sectionEnd int    // the line of its end tag
	others     []int  // lines of further directory sections (FreeSWITCH ignores them)
	rootLine   int
}

// readSection reads the pre-processed document as leniently as
// FreeSWITCH's parser does (unknown entities and a bare & stay as written)
// but insists on matching tags, and builds the tree of the first
// <section name="directory"> child of the root only: the rest of
// freeswitch.xml (dialplans, module configurations) is skipped, and a
// fault in it after the directory section is not the directory's.
func readSection(data []byte) (*sectionScan, *SyntaxError) {
	dec := newDecoder(data, false) // lenient: unknown entities and a bare & stay
	var (
		scan  sectionScan
		stack []string
		lines []int // start line of each element in stack
		cur   *xel  // innermost element being built inside the section
		done  bool  // the section is complete
	)
	for {
		line, _ := dec.InputPos()
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if done {
				return &scan, nil
			}
			return &scan, syntaxError(dec, "", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := fullName(t.Name)
			if len(stack) == 0 {
				if scan.root != "" {
					if done {
						return &scan, nil
					}
					return &scan, &SyntaxError{Line: line, Msg: fmt.Sprintf("second root element <%s>", name)}
				}
				scan.root, scan.rootLine = name, line
			}
			if len(stack) >= maxDepth {
				if done {
					return &scan, nil
				}
				return &scan, &SyntaxError{Line: line, Msg: "elements nested too deep"}
			}
			stack = append(stack, name)
			lines = append(lines, line)
			switch {
			case cur != nil:
				el := &xel{tag: name, attrs: t.Attr, parent: cur, line: line}
				cur.kids = append(cur.kids, el)
				cur = el
			case len(stack) == 2 && name == "section" && isDirectorySection(t.Attr):
				if scan.section != nil {
					scan.others = append(scan.others, line)
					break
				}
				scan.section = &xel{tag: name, attrs: t.Attr, line: line}
				cur = scan.section
			}
		case xml.EndElement:
			name := fullName(t.Name)
			if len(stack) == 0 || stack[len(stack)-1] != name {
				if done {
					return &scan, nil
				}
				want := "no open element"
				if len(stack) > 0 {
					want = "<" + stack[len(stack)-1] + "> is open"
					scan.openLine = lines[len(lines)-1]
				}
				return &scan, &SyntaxError{Line: line, Msg: fmt.Sprintf("unexpected end tag </%s>: %s", name, want)}
			}
			stack = stack[:len(stack)-1]
			lines = lines[:len(lines)-1]
			if cur != nil {
				if cur == scan.section {
					done, scan.sectionEnd = true, line
				}
				cur = cur.parent
			}
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 && !done {
				return &scan, &SyntaxError{Line: line, Msg: fmt.Sprintf("text outside the root element: %q", clip(strings.TrimSpace(string(t)), 40))}
			}
		}
	}
	if len(stack) > 0 && !done {
		l, _ := dec.InputPos()
		scan.openLine = lines[len(lines)-1]
		return &scan, &SyntaxError{Line: l, Msg: fmt.Sprintf("unclosed element <%s>", stack[len(stack)-1])}
	}
	if scan.root == "" {
		return &scan, &SyntaxError{Line: 1, Msg: "no root element"}
	}
	return &scan, nil
}

// isDirectorySection: switch_xml_find_child(xml, "section", "name",
// "directory") compares the name case-insensitively.
func isDirectorySection(attrs []xml.Attr) bool {
	for _, a := range attrs {
		if attrName(a.Name) == "name" {
			return strings.EqualFold(a.Value, "directory")
		}
	}
	return false
}
