package conf

import (
	"fmt"
	"slices"
	"strings"
)

// hasRef reports whether v holds a FreeSWITCH $${name} reference.
func hasRef(v string) bool {
	i := strings.Index(v, "$${")
	return i >= 0 && strings.Contains(v[i+3:], "}")
}

// expand replaces every $${name} in v by vars[name], like FreeSWITCH's
// pre-processor. Names without a value are passed to missing and left as
// written. A nil vars map leaves v unchanged.
func expand(v string, vars map[string]string, missing func(name string)) string {
	if vars == nil || !hasRef(v) {
		return v
	}
	var b strings.Builder
	for {
		i := strings.Index(v, "$${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i+3:], '}')
		if j < 0 {
			break
		}
		name := v[i+3 : i+3+j]
		b.WriteString(v[:i])
		if val, ok := vars[name]; ok {
			b.WriteString(val)
		} else {
			missing(name)
			b.WriteString(v[i : i+3+j+1])
		}
		v = v[i+3+j+1:]
	}
	b.WriteString(v)
	return b.String()
}

// VarRef is one unresolved $${name} reference: its name and the line of its
// first use.
type VarRef struct {
	Name string
	Line int
}

// UnresolvedError lists the $${name} references that had no value when a
// configuration or directory was resolved. It wraps ErrUnresolved.
type UnresolvedError struct {
	File string
	Refs []VarRef // one per name, sorted by name
}

// Names returns the unresolved variable names, sorted.
func (e *UnresolvedError) Names() []string {
	names := make([]string, len(e.Refs))
	for i, r := range e.Refs {
		names[i] = r.Name
	}
	return names
}

func (e *UnresolvedError) Error() string {
	parts := make([]string, len(e.Refs))
	for i, r := range e.Refs {
		parts[i] = fmt.Sprintf("$${%s} (line %d)", r.Name, r.Line)
	}
	return fmt.Sprintf("%s: unresolved variables: %s", e.File, strings.Join(parts, ", "))
}

// Unwrap returns ErrUnresolved.
func (e *UnresolvedError) Unwrap() error { return ErrUnresolved }

// refCollector gathers unresolved names with the line of their first use.
type refCollector struct {
	vars  map[string]string
	seen  map[string]bool
	first []VarRef // in order of first use, so the result does not depend on map order
}

func newRefCollector(vars map[string]string) *refCollector {
	return &refCollector{vars: vars, seen: map[string]bool{}}
}

// expand resolves v, recording names that have no value at line.
func (rc *refCollector) expand(v string, line int) string {
	if rc == nil {
		return v
	}
	return expand(v, rc.vars, func(name string) {
		if !rc.seen[name] {
			rc.seen[name] = true
			rc.first = append(rc.first, VarRef{Name: name, Line: line})
		}
	})
}

// err returns an *UnresolvedError for file, or nil when everything resolved.
func (rc *refCollector) err(file string) error {
	if rc == nil || len(rc.first) == 0 {
		return nil
	}
	e := &UnresolvedError{File: file, Refs: slices.Clone(rc.first)}
	slices.SortStableFunc(e.Refs, func(a, b VarRef) int { return strings.Compare(a.Name, b.Name) })
	return e
}
