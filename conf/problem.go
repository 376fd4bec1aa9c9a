package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity tells whether a Problem stops a configuration from being used.
type Severity int

const (
	// SeverityError marks a problem that makes the configuration unusable.
	SeverityError Severity = iota
	// SeverityWarning marks a problem that is reported but tolerated, such as a
	// mod_verto parameter that has no meaning for xrtc.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Problem is one finding about a configuration or directory file. Line is 1-based;
// 0 means the position is not known (for example an element added by Set).
type Problem struct {
	File     string
	Line     int
	Profile  string // profile name, "" for settings or document-level problems
	Param    string // parameter or element name, "" when the problem is about a whole profile
	Severity Severity
	Message  string
	Scope    Scope // where Param lives: settings params are labelled as such
}

// String formats the problem as `file:line: profile "x" param "y": message`.
// Warnings carry "warning: " in front of the message; settings parameters are
// labelled `settings param "y"`.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	switch {
	case p.Profile != "":
		fmt.Fprintf(&b, "profile %q ", p.Profile)
	case p.Param != "" && p.Scope == ScopeSettings:
		b.WriteString("settings ")
	}
	if p.Param != "" {
		fmt.Fprintf(&b, "param %q ", p.Param)
	}
	s := strings.TrimSuffix(b.String(), " ")
	if !strings.HasSuffix(s, ":") {
		s += ":"
	}
	s += " "
	if p.Severity == SeverityWarning {
		s += "warning: "
	}
	return s + p.Message
}

// Problems is a list of findings. As an error it reports every problem, one per
// line; errors.Is(problems, ErrInvalid) is true.
type Problems []Problem

// Error joins all problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(ps, ErrInvalid) true.
func (ps Problems) Unwrap() error { return ErrInvalid }

// Errors returns the problems of severity error.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns the problems of severity warning.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

// HasErrors reports whether any problem has severity error.
func (ps Problems) HasErrors() bool { return len(ps.Errors()) > 0 }

// Err returns the error-severity problems as an error, or nil when there are
// none (warnings alone do not make a configuration invalid).
func (ps Problems) Err() error {
	if errs := ps.Errors(); len(errs) > 0 {
		return errs
	}
	return nil
}

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// sort orders problems by file and line, keeping the order of discovery for
// problems on the same line.
func (ps Problems) sort() {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}
