package verto

import (
	"encoding/json"
	"errors"
	"fmt"
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
// decoded, values kept raw (sub-slices of b, not copies).
func parseObjectFast(o *Object, b []byte, maxDepth int) error {
	o.fields = o.fields[:0]
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fmt.Errorf("%w: not a JSON object", errSyntax)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return fmt.Errorf("%w: data after object", errSyntax)
		}
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return fmt.Errorf("%w: expected object key at offset %d", errSyntax, i)
		}
		end, esc, err := scanString(b, i)
		if err != nil {
			return err
		}
		var key string
		if esc {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return fmt.Errorf("%w: key: %v", errSyntax, err)
			}
		} else {
			key = string(b[i+1 : end-1])
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return fmt.Errorf("%w: expected ':' at offset %d", errSyntax, i)
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return fmt.Errorf("%w: unexpected end of input", errSyntax)
		}
		vend, err := scanValue(b, i, maxDepth-1)
		if err != nil {
			return err
		}
		o.SetRaw(key, b[i:vend:vend])
		i = skipSpace(b, vend)
		if i >= len(b) {
			return fmt.Errorf("%w: unexpected end of input", errSyntax)
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return fmt.Errorf("%w: data after object", errSyntax)
			}
			return nil
		}
		if b[i] != ',' {
			return fmt.Errorf("%w: expected ',' or '}' at offset %d", errSyntax, i)
		}
		i = skipSpace(b, i+1)
	}
}
