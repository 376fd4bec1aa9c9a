package verto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// errSyntax is wrapped by scanner errors.
var errSyntax = errors.New("invalid JSON")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// scanString returns the index just past the JSON string starting at b[i]
// (which must be '"') and whether it contains escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(b) {
		i = plainRun(b, i)
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			i += 2
		case c < 0x20:
			return 0, false, fmt.Errorf("%w: control character in string at offset %d", errSyntax, i)
		default:
			i++
		}
	}
	return 0, false, fmt.Errorf("%w: unterminated string", errSyntax)
}

// scanValue returns the index just past the JSON value starting at b[i]. It
// checks nesting and strings, and leaves number and literal checks to
// encoding/json when the value is decoded.
func scanValue(b []byte, i, maxDepth int) (int, error) {
	depth := 0
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			end, _, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = end
		case c == '{' || c == '[':
			depth++
			if depth > maxDepth {
				return 0, fmt.Errorf("%w: nested deeper than %d", errSyntax, maxDepth)
			}
			i++
			continue
		case c == '}' || c == ']':
			depth--
			if depth < 0 {
				return 0, fmt.Errorf("%w: unexpected %q at offset %d", errSyntax, c, i)
			}
			i++
		case isSpace(c) || c == ',' || c == ':':
			i++
			continue
		default:
			for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ':' {
				i++
			}
		}
		if depth == 0 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w: unexpected end of input", errSyntax)
}

// parseObjectFast fills o from the JSON object b without reflection: keys are
// decoded, values kept raw (sub-slices of b, not copies). strict validates
// the values as well (see eachMember).
func parseObjectFast(o *Object, b []byte, maxDepth int, strict bool) error {
	if o.fields == nil {
		o.fields = make([]field, 0, 8)
	}
	o.fields, o.index = o.fields[:0], nil
	return eachMember(b, maxDepth, strict, func(key []byte, val json.RawMessage) error {
		o.setParsed(key, val)
		return nil
	})
}

// eachMember calls fn with every member of the JSON object b, in order and
// duplicates included: the key unescaped, the value raw (both may share b).
// Values are checked for structure and nesting; strict checks them fully
// (JSON grammar), so that nil from eachMember means b is a valid JSON
// object: a frame is validated by its parse, while the members of one
// already checked are only scanned.
func eachMember(b []byte, maxDepth int, strict bool, fn func(key []byte, val json.RawMessage) error) error {
	scan := scanValue
	if strict {
		scan = validValue
	}
	end, err := objectAt(b, skipSpace(b, 0), func(key []byte, i int) (int, error) {
		vend, err := scan(b, i, maxDepth-1)
		if err != nil {
			return 0, err
		}
		return vend, fn(key, b[i:vend:vend])
	})
	if err != nil {
		return err
	}
	if skipSpace(b, end) != len(b) {
		return fmt.Errorf("%w: data after object", errSyntax)
	}
	return nil
}

// objectAt reads the JSON object that starts at b[i] and returns the index
// just past it. For each member it calls member with the key (unescaped,
// maybe sharing b) and the index of the value, which member reads and
// checks as it needs and returns the index just past.
func objectAt(b []byte, i int, member func(key []byte, i int) (int, error)) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, fmt.Errorf("%w: not a JSON object", errSyntax)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, fmt.Errorf("%w: expected object key at offset %d", errSyntax, i)
		}
		end, esc, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : end-1 : end-1]
		if esc {
			k, ok := unquote(b[i:end])
			if !ok {
				return 0, fmt.Errorf("%w: key at offset %d", errSyntax, i)
			}
			key = []byte(k)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, fmt.Errorf("%w: expected ':' at offset %d", errSyntax, i)
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return 0, fmt.Errorf("%w: unexpected end of input", errSyntax)
		}
		if i, err = member(key, i); err != nil {
			return 0, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, fmt.Errorf("%w: unexpected end of input", errSyntax)
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return 0, fmt.Errorf("%w: expected ',' or '}' at offset %d", errSyntax, i)
		}
		i = skipSpace(b, i+1)
	}
}

// errTooDeep is returned by validate when nesting exceeds its limit.
var errTooDeep = errors.New("nested too deep")

// validate checks that b is exactly one JSON value (RFC 8259, as
// encoding/json.Valid reads it) nested at most maxDepth deep, in one pass
// and without allocating. It returns errTooDeep or an errSyntax error.
func validate(b []byte, maxDepth int) error {
	end, err := validValue(b, skipSpace(b, 0), maxDepth)
	if err != nil {
		return err
	}
	if end = skipSpace(b, end); end != len(b) {
		return fmt.Errorf("%w: data after the value at offset %d", errSyntax, end)
	}
	return nil
}

// validValue checks the JSON value starting at b[i], nested at most
// maxDepth deep, and returns the index just past it.
func validValue(b []byte, i, maxDepth int) (int, error) {
	// stack[d] is the container at depth d+1: '{' or '['.
	var small [64]byte
	stack := small[:0]
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return 0, fmt.Errorf("%w: unexpected end of input", errSyntax)
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) >= maxDepth {
				return 0, errTooDeep
			}
			stack = append(stack, c)
			i = skipSpace(b, i+1)
			if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				var err error
				if i, err = validKey(b, i); err != nil {
					return 0, err
				}
			}
			continue
		case '"':
			end, err := validString(b, i)
			if err != nil {
				return 0, err
			}
			i = end
		case 't':
			if !hasLiteral(b, i, "true") {
				return 0, fmt.Errorf("%w: bad literal at offset %d", errSyntax, i)
			}
			i += 4
		case 'f':
			if !hasLiteral(b, i, "false") {
				return 0, fmt.Errorf("%w: bad literal at offset %d", errSyntax, i)
			}
			i += 5
		case 'n':
			if !hasLiteral(b, i, "null") {
				return 0, fmt.Errorf("%w: bad literal at offset %d", errSyntax, i)
			}
			i += 4
		default:
			end, err := validNumber(b, i)
			if err != nil {
				return 0, err
			}
			i = end
		}
		// After a value: close containers, or go on to the next member.
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, fmt.Errorf("%w: unexpected end of input", errSyntax)
			}
			top := stack[len(stack)-1]
			switch {
			case b[i] == ',':
				i = skipSpace(b, i+1)
				if top == '{' {
					var err error
					if i, err = validKey(b, i); err != nil {
						return 0, err
					}
				}
			case top == '{' && b[i] == '}' || top == '[' && b[i] == ']':
				stack = stack[:len(stack)-1]
				i++
				continue
			default:
				return 0, fmt.Errorf("%w: unexpected %q at offset %d", errSyntax, b[i], i)
			}
			break
		}
	}
}

// validKey checks `"key" :` at b[i] and returns the index of the value.
func validKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, fmt.Errorf("%w: expected object key at offset %d", errSyntax, i)
	}
	end, err := validString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return 0, fmt.Errorf("%w: expected ':' at offset %d", errSyntax, i)
	}
	return skipSpace(b, i+1), nil
}

// validString returns the index just past the JSON string at b[i] (a '"'),
// checking its escapes.
func validString(b []byte, i int) (int, error) {
	i++
	for i < len(b) {
		i = plainRun(b, i)
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return 0, fmt.Errorf("%w: unterminated string", errSyntax)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, fmt.Errorf("%w: bad \\u escape at offset %d", errSyntax, i)
				}
				i += 6
			default:
				return 0, fmt.Errorf("%w: bad escape at offset %d", errSyntax, i)
			}
		case c < 0x20:
			return 0, fmt.Errorf("%w: control character in string at offset %d", errSyntax, i)
		default:
			i++
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", errSyntax)
}

// Eight bytes at a time: lsb has the low bit of each byte, msb the high.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun returns the index of the first byte at or after b[i] that a
// string scan must look at (a '"', a '\\' or a control character), reading
// eight bytes at a time; within the last seven bytes of b it returns i, for
// the caller's byte loop. In a word w read little-endian, (x-lsb)&^x&msb
// marks the zero bytes of x (of w^'"', of w^'\\') and (w-0x20*lsb)&^w&msb
// the bytes below 0x20. A borrow can mark bytes after a marked one, never
// before: the lowest mark is exact.
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		q, s := w^(lsb*'"'), w^(lsb*'\\')
		if m := ((q-lsb)&^q | (s-lsb)&^s | (w-lsb*0x20)&^w) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	return i
}

func isHex(c byte) bool { return c-'0' < 10 || (c|0x20)-'a' < 6 }

func isDigit(c byte) bool { return c-'0' < 10 }

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// validNumber returns the index just past the JSON number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, error) {
	start := i
	bad := func() (int, error) { return 0, fmt.Errorf("%w: bad value at offset %d", errSyntax, start) }
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return bad()
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return bad()
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return bad()
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

// setParsed stores a parsed member: a duplicate key keeps its last value,
// as encoding/json does.
func (o *Object) setParsed(key []byte, val json.RawMessage) {
	if i := o.find(string(key)); i >= 0 {
		o.fields[i].val = val
		return
	}
	o.add(key, val)
}

// unquote decodes the JSON string raw: strings without escapes (most)
// without encoding/json. It reports false when raw is not a string.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	n := plainRun(inner, 0)
	for n < len(inner) && inner[n] != '\\' && inner[n] != '"' && inner[n] >= 0x20 {
		n++
	}
	// encoding/json would replace invalid UTF-8: only valid text is taken
	// as it is.
	if n == len(inner) && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// EachMember calls fn with every member of the JSON object b, in order and
// duplicates included (a caller that keeps the last one reads b as an
// Object would): the key unescaped, the value raw, both sharing b. It is
// for objects inside a frame Decode validated already (dialogParams,
// say): it checks structure and nesting, not the whole JSON grammar, and
// builds no Object.
func EachMember(b []byte, fn func(key []byte, val json.RawMessage) error) error {
	if err := eachMember(b, DefaultLimits.MaxDepth, false, fn); err != nil {
		return fmt.Errorf("verto: object: %w", err)
	}
	return nil
}

// StringValue decodes raw as a JSON string: "" and false when it is not one.
func StringValue(raw json.RawMessage) (string, bool) { return unquote(raw) }
