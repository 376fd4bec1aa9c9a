package conf

import "errors"

// Sentinel errors. Functions wrap them with context (file, line, names); test
// for them with errors.Is.
var (
	// ErrSyntax means the file is not well-formed XML. The error wrapping it is a
	// *SyntaxError with the file and line.
	ErrSyntax = errors.New("malformed XML")

	// ErrInvalid means a configuration has error-severity problems. Problems
	// unwraps to it.
	ErrInvalid = errors.New("invalid configuration")

	// ErrUnresolved means a $${name} reference has no value in the supplied
	// variables. The error wrapping it is an *UnresolvedError listing the names.
	ErrUnresolved = errors.New("unresolved variable reference")

	// ErrUnknownProfile means a profile name is not configured.
	ErrUnknownProfile = errors.New("unknown profile")

	// ErrUnknownParam means a parameter name is not one xcc-rtc.conf.xml knows
	// in that place (settings or profile), or has no meaning for xrtc.
	ErrUnknownParam = errors.New("unknown parameter")

	// ErrBadValue means a value does not fit the parameter's type or range.
	ErrBadValue = errors.New("bad parameter value")

	// ErrNoConfiguration means the document has no <configuration> element to
	// read or edit.
	ErrNoConfiguration = errors.New("no <configuration> element")

	// ErrDuplicate means a name that must be unique is already taken (a profile
	// added twice).
	ErrDuplicate = errors.New("duplicate name")
)
