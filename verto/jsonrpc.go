package verto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Version is the only JSON-RPC version Verto speaks.
const Version = "2.0"

// ID is a JSON-RPC id, kept exactly as it was written. Browsers and mod_verto
// use integers, the XCC bus uses strings ("7"); both round-trip unchanged. The
// zero ID is absent (a notification).
type ID struct {
	raw []byte // the JSON token: a number, a string, or null
}

// IntID returns the integer id n.
func IntID(n int64) ID { return ID{raw: strconv.AppendInt(nil, n, 10)} }

// StringID returns the string id s.
func StringID(s string) ID { return ID{raw: AppendString(nil, s)} }

// IsZero reports whether the id is absent.
func (id ID) IsZero() bool { return len(id.raw) == 0 }

// IsNull reports whether the id was written as JSON null.
func (id ID) IsNull() bool { return string(id.raw) == "null" }

// IsString reports whether the id is a JSON string.
func (id ID) IsString() bool { return len(id.raw) > 0 && id.raw[0] == '"' }

// Int returns the id as an integer, if it is one.
func (id ID) Int() (int64, bool) {
	if len(id.raw) == 0 || id.raw[0] == '"' {
		return 0, false
	}
	n, err := strconv.ParseInt(string(id.raw), 10, 64)
	return n, err == nil
}

// String returns the id's text: the string's value, or the number as written.
func (id ID) String() string {
	if id.IsString() {
		var s string
		if json.Unmarshal(id.raw, &s) == nil {
			return s
		}
	}
	return string(id.raw)
}

// Equal reports whether two ids are the same token.
func (id ID) Equal(o ID) bool { return bytes.Equal(id.raw, o.raw) }

// MarshalJSON writes the id as it was read.
func (id ID) MarshalJSON() ([]byte, error) {
	if len(id.raw) == 0 {
		return []byte("null"), nil
	}
	return id.raw, nil
}

// UnmarshalJSON accepts a number, a string or null; anything else is an error.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("verto: empty id")
	}
	switch b[0] {
	case '"', 'n':
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return fmt.Errorf("verto: id must be a number or a string, got %.20s", b)
	}
	id.raw = append(id.raw[:0], b...)
	return nil
}

// Message is one JSON-RPC 2.0 object: a request (Method and ID), a
// notification (Method, no ID), a result (Result and ID) or an error (Error).
// Params and Result stay raw so that a relay passes on what it does not know.
type Message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      ID              `json:"id,omitzero"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Kind says what a message is, by the XCC SDK's rule: result, then error,
// then a request if it has an id, else a notification.
type Kind int

// The kinds of message.
const (
	KindRequest Kind = iota
	KindNotification
	KindResult
	KindError
)

func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Kind classifies m.
func (m *Message) Kind() Kind {
	switch {
	case m.Result != nil:
		return KindResult
	case m.Error != nil:
		return KindError
	case !m.ID.IsZero():
		return KindRequest
	}
	return KindNotification
}

// NewRequest builds a request with params marshalled from p.
func NewRequest(id ID, method string, p any) (*Message, error) {
	raw, err := marshalRaw(p)
	if err != nil {
		return nil, fmt.Errorf("verto: %s params: %w", method, err)
	}
	return &Message{JSONRPC: Version, ID: id, Method: method, Params: raw}, nil
}

// NewNotification builds a request without id.
func NewNotification(method string, p any) (*Message, error) {
	return NewRequest(ID{}, method, p)
}

// NewResult builds a result for the request with the given id.
func NewResult(id ID, r any) (*Message, error) {
	raw, err := marshalRaw(r)
	if err != nil {
		return nil, fmt.Errorf("verto: result: %w", err)
	}
	if raw == nil {
		raw = json.RawMessage("{}")
	}
	return &Message{JSONRPC: Version, ID: id, Result: raw}, nil
}

// NewError builds an error reply for the request with the given id.
func NewError(id ID, e *Error) *Message {
	return &Message{JSONRPC: Version, ID: id, Error: e}
}

func marshalRaw(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return v, nil
	case *Object:
		return v.MarshalJSON()
	}
	return json.Marshal(v)
}

// DecodeParams decodes the params into v. A missing params object decodes as
// empty. Type mismatches give an *Error with code -32602.
func (m *Message) DecodeParams(v any) error {
	if len(m.Params) == 0 || string(m.Params) == "null" {
		return nil
	}
	var err error
	if u, ok := v.(json.Unmarshaler); ok {
		// Params are valid JSON (Decode checked the frame, or they were
		// marshalled): no second validity pass.
		err = u.UnmarshalJSON(m.Params)
	} else {
		err = json.Unmarshal(m.Params, v)
	}
	if err != nil {
		return &Error{Code: CodeInvalidParams, Message: "Invalid params: " + err.Error()}
	}
	return nil
}

// DecodeResult decodes the result into v.
func (m *Message) DecodeResult(v any) error {
	if len(m.Result) == 0 {
		return fmt.Errorf("verto: message has no result")
	}
	if err := json.Unmarshal(m.Result, v); err != nil {
		return fmt.Errorf("verto: result: %w", err)
	}
	return nil
}

// Marshal encodes m. Params, result and error fields are written as they
// are, without a second pass through encoding/json.
func (m *Message) Marshal() ([]byte, error) {
	return m.MarshalJSON()
}

// MarshalJSON writes the message with its members in the usual order.
func (m *Message) MarshalJSON() ([]byte, error) {
	n := 32 + len(m.ID.raw) + len(m.Method) + len(m.Params) + len(m.Result)
	b := make([]byte, 0, n)
	b = append(b, `{"jsonrpc":"2.0"`...)
	if !m.ID.IsZero() {
		b = append(b, `,"id":`...)
		b = append(b, m.ID.raw...)
	}
	if m.Method != "" {
		b = append(b, `,"method":`...)
		b = AppendString(b, m.Method)
	}
	if len(m.Params) > 0 {
		b = append(b, `,"params":`...)
		b = append(b, m.Params...)
	}
	if m.Result != nil {
		b = append(b, `,"result":`...)
		b = append(b, m.Result...)
	}
	if m.Error != nil {
		eb, err := m.Error.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, `,"error":`...)
		b = append(b, eb...)
	}
	return append(b, '}'), nil
}

// AppendString appends s as a JSON string: as it is when it needs no
// escape, else as encoding/json writes it.
func AppendString(b []byte, s string) []byte { return appendQuoted(b, s) }

// appendQuoted is AppendString for text held as a string or as bytes (an
// Object's keys), without making a string of bytes that need no escape.
func appendQuoted[T string | []byte](b []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(string(s))
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
