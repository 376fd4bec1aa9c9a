package conf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode"

	"github.com/beevik/etree"
)

// maxDepth bounds element nesting, like etree's own default.
const maxDepth = 256

// SyntaxError is a file that is not well-formed XML. It wraps ErrSyntax.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, ErrSyntax, e.Msg)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// readDocument parses data with etree and returns the document with the line
// of every element. etree keeps no positions, so the same bytes are first read
// token by token with encoding/xml, configured as etree configures it, and the
// start line of each element is recorded in document order; the n-th element
// of a pre-order walk of the etree tree is the n-th start tag of the scan.
func readDocument(file string, data []byte) (*etree.Document, map[*etree.Element]int, error) {
	starts, err := scanStartLines(file, data)
	if err != nil {
		return nil, nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings.MaxDepth = maxDepth + 1
	doc.WriteSettings.CanonicalText = true
	doc.WriteSettings.CanonicalAttrVal = true
	if err := doc.ReadFromBytes(data); err != nil {
		// The scan accepted what etree refused: report it without a better line.
		return nil, nil, &SyntaxError{File: file, Line: 1, Msg: err.Error()}
	}
	lines := make(map[*etree.Element]int, len(starts))
	i := 0
	walkElements(&doc.Element, func(e *etree.Element) {
		if i < len(starts) {
			lines[e] = starts[i]
		}
		i++
	})
	return doc, lines, nil
}

// scanStartLines returns the 1-based line of each start tag, in order, and
// checks that the document is well formed (matching end tags, one root).
func scanStartLines(file string, data []byte) ([]int, error) {
	dec := newDecoder(data, true)
	var (
		starts []int
		stack  []xml.Name
		roots  int
	)
	for {
		line, _ := dec.InputPos()
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(dec, file, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if roots > 1 {
					return nil, &SyntaxError{File: file, Line: line, Msg: fmt.Sprintf("second root element <%s>", fullName(t.Name))}
				}
			}
			if len(stack) >= maxDepth {
				return nil, &SyntaxError{File: file, Line: line, Msg: "elements nested too deep"}
			}
			stack = append(stack, t.Name)
			starts = append(starts, line)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name {
				return nil, &SyntaxError{File: file, Line: line, Msg: fmt.Sprintf("unexpected end tag </%s>", fullName(t.Name))}
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				line += bytes.Count(t[:bytes.IndexFunc(t, func(r rune) bool { return !unicode.IsSpace(r) })], []byte("\n"))
				return nil, &SyntaxError{File: file, Line: line, Msg: "text outside the root element"}
			}
		}
	}
	if len(stack) > 0 {
		l, _ := dec.InputPos()
		return nil, &SyntaxError{File: file, Line: l, Msg: fmt.Sprintf("unclosed element <%s>", fullName(stack[len(stack)-1]))}
	}
	if roots == 0 {
		return nil, &SyntaxError{File: file, Line: 1, Msg: "no root element"}
	}
	return starts, nil
}

// newDecoder reads data with any declared charset taken as UTF-8.
func newDecoder(data []byte, strict bool) *xml.Decoder {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = strict
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	return dec
}

// syntaxError turns a decoder's error into a *SyntaxError.
func syntaxError(dec *xml.Decoder, file string, err error) *SyntaxError {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &SyntaxError{File: file, Line: se.Line, Msg: se.Msg}
	}
	l, _ := dec.InputPos()
	return &SyntaxError{File: file, Line: l, Msg: err.Error()}
}

func fullName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// walkElements calls fn for every element below root, in document order.
func walkElements(root *etree.Element, fn func(*etree.Element)) {
	for _, c := range root.ChildElements() {
		fn(c)
		walkElements(c, fn)
	}
}

// copyDocument deep-copies doc and carries the line map over to the copy.
func copyDocument(doc *etree.Document, lines map[*etree.Element]int) (*etree.Document, map[*etree.Element]int) {
	cp := doc.Copy()
	var orig, dup []*etree.Element
	walkElements(&doc.Element, func(e *etree.Element) { orig = append(orig, e) })
	walkElements(&cp.Element, func(e *etree.Element) { dup = append(dup, e) })
	nl := make(map[*etree.Element]int, len(lines))
	for i := range min(len(orig), len(dup)) {
		if l, ok := lines[orig[i]]; ok {
			nl[dup[i]] = l
		}
	}
	return cp, nl
}
