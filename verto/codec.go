package verto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits bound what Decode accepts from one frame.
type Limits struct {
	MaxBytes int // frame size; 0 means DefaultLimits.MaxBytes
	MaxBatch int // messages in one batch (array); 0 means DefaultLimits.MaxBatch
	MaxDepth int // nesting of objects and arrays; 0 means DefaultLimits.MaxDepth
	// MaxParams bounds the members of a message's params object (repeated
	// keys counted); 0 means DefaultLimits.MaxParams. A Verto message has
	// a handful; thousands (a hostile frame) would cost every reader that
	// makes them an Object.
	MaxParams int
}

// DefaultLimits are the limits XCtrl and xrtc use unless configured. XCtrl
// takes at most MaxClientParams from a client, and adds a few members to
// what it relays: the bus's MaxParams stays above that.
var DefaultLimits = Limits{MaxBytes: 256 << 10, MaxBatch: 32, MaxDepth: 64, MaxParams: 256}

// MaxClientParams is the params members XCtrl takes in a client's message.
const MaxClientParams = 128

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = DefaultLimits.MaxBatch
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxParams <= 0 {
		l.MaxParams = DefaultLimits.MaxParams
	}
	return l
}

// Decode errors. Each is wrapped in a *DecodeError, whose RPC method gives the
// JSON-RPC error to send back.
var (
	// ErrNotJSON: the frame is not valid JSON.
	ErrNotJSON = errors.New("not valid JSON")
	// ErrTooLarge: the frame exceeds Limits.MaxBytes.
	ErrTooLarge = errors.New("frame too large")
	// ErrTooDeep: the frame nests objects or arrays deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("nested too deep")
	// ErrBatchTooLarge: a batch has more than Limits.MaxBatch messages.
	ErrBatchTooLarge = errors.New("batch too large")
	// ErrEmptyBatch: the frame is an empty array.
	ErrEmptyBatch = errors.New("empty batch")
	// ErrNotObject: the frame (or a batch member) is not a JSON object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrVersion: jsonrpc is missing or not "2.0".
	ErrVersion = errors.New(`jsonrpc must be "2.0"`)
	// ErrNoMethod: neither method, result nor error is present.
	ErrNoMethod = errors.New("missing method")
	// ErrBadField: a member has the wrong type (id, method, params, error).
	ErrBadField = errors.New("wrong type")
	// ErrTooManyParams: the params object has more than Limits.MaxParams
	// members.
	ErrTooManyParams = errors.New("too many params")
)

// DecodeError is a frame or message that cannot be accepted. ID is the
// message's id when it could be read, so the error reply can carry it.
type DecodeError struct {
	ID    ID
	Index int // position in a batch, -1 for a single message or the frame
	Err   error
}

func (e *DecodeError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("verto: batch member %d: %v", e.Index, e.Err)
	}
	return "verto: " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// RPC returns the JSON-RPC error to send for e, as mod_verto would.
func (e *DecodeError) RPC() *Error {
	switch {
	case errors.Is(e.Err, ErrTooLarge):
		return &Error{Code: CodeInvalidRequest, Message: MsgTooLarge}
	case errors.Is(e.Err, ErrBatchTooLarge):
		return &Error{Code: CodeInvalidRequest, Message: MsgBatchTooLarge}
	case errors.Is(e.Err, ErrTooManyParams):
		return &Error{Code: CodeInvalidParams, Message: MsgTooManyParams}
	case errors.Is(e.Err, ErrNoMethod):
		return &Error{Code: CodeMethodNotFound, Message: MsgMethodNotFound}
	case errors.Is(e.Err, ErrVersion), errors.Is(e.Err, ErrBadField), errors.Is(e.Err, ErrNotObject):
		return &Error{Code: CodeInvalidRequest, Message: MsgInvalidMessage}
	}
	return &Error{Code: CodeInvalidRequest, Message: MsgInvalidRequest}
}

// Frame is one decoded WebSocket or NATS payload: a single message or a
// batch. Bad members of a batch are reported in Errs (in order) without
// spoiling the good ones.
type Frame struct {
	Batch bool
	Msgs  []*Message
	Errs  []*DecodeError
}

// Decode parses one frame. A frame-level problem (not JSON, too large, too
// deep, batch too large) returns a *DecodeError and no messages. Members of a
// batch that are not valid JSON-RPC are listed in Frame.Errs.
func Decode(b []byte, lim Limits) (*Frame, error) {
	lim = lim.orDefault()
	if err := checkFrame(b, lim); err != nil {
		return nil, err
	}
	i := skipSpace(b, 0)
	if i < len(b) && b[i] == '[' {
		var parts []json.RawMessage
		if err := json.Unmarshal(b, &parts); err != nil {
			return nil, &DecodeError{Index: -1, Err: ErrNotJSON}
		}
		if len(parts) == 0 {
			return nil, &DecodeError{Index: -1, Err: ErrEmptyBatch}
		}
		if len(parts) > lim.MaxBatch {
			return nil, &DecodeError{Index: -1, Err: fmt.Errorf("%w: %d messages, limit %d", ErrBatchTooLarge, len(parts), lim.MaxBatch)}
		}
		f := &Frame{Batch: true}
		for n, p := range parts {
			m, err := decodeOne(p, lim)
			if err != nil {
				err.Index = n
				f.Errs = append(f.Errs, err)
				continue
			}
			f.Msgs = append(f.Msgs, m)
		}
		return f, nil
	}
	m, err := decodeOne(b, lim)
	if err != nil {
		return nil, err
	}
	return &Frame{Msgs: []*Message{m}}, nil
}

// DecodeMessage parses a frame that must hold exactly one message (the NATS
// side never batches).
func DecodeMessage(b []byte, lim Limits) (*Message, error) {
	lim = lim.orDefault()
	if err := checkFrame(b, lim); err != nil {
		return nil, err
	}
	m, err := decodeOne(b, lim)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// decodeOne decodes a valid JSON value into a message, without reflection on
// the params.
func decodeOne(b []byte, lim Limits) (*Message, *DecodeError) {
	// The members are read straight off the scan, the last of a repeated
	// key winning as in an Object, with no Object built. A member's value
	// is never nil: nil is a member absent.
	var idRaw, version, method, params, result, errRaw json.RawMessage
	manyParams := false // more members than lim.MaxParams: refused once the id is read
	end, err := objectAt(b, skipSpace(b, 0), func(key []byte, i int) (int, error) {
		if string(key) == "params" && b[i] == '{' && lim.MaxDepth >= 2 {
			// Validated member by member, and counted.
			n := 0
			pend, err := objectAt(b, i, func(_ []byte, j int) (int, error) {
				n++
				return validValue(b, j, lim.MaxDepth-2)
			})
			if err != nil {
				return 0, err
			}
			params, manyParams = b[i:pend:pend], n > lim.MaxParams
			return pend, nil
		}
		vend, err := validValue(b, i, lim.MaxDepth-1)
		if err != nil {
			return 0, err
		}
		val := b[i:vend:vend]
		switch string(key) {
		case "id":
			idRaw = val
		case "jsonrpc":
			version = val
		case "method":
			method = val
		case "params":
			params, manyParams = val, false
		case "result":
			result = val
		case "error":
			errRaw = val
		}
		return vend, nil
	})
	if err == nil && skipSpace(b, end) != len(b) {
		err = fmt.Errorf("%w: data after object", errSyntax)
	}
	if err != nil {
		if isObject(b) {
			return nil, jsonError(err, lim.MaxDepth) // not valid JSON after all
		}
		return nil, &DecodeError{Index: -1, Err: ErrNotObject}
	}
	m := &Message{}
	bad := func(name string) *DecodeError {
		return &DecodeError{ID: m.ID, Index: -1, Err: fmt.Errorf("%w: %s", ErrBadField, name)}
	}
	if idRaw != nil {
		if err := m.ID.UnmarshalJSON(idRaw); err != nil {
			return nil, bad("id")
		}
		if m.ID.IsNull() {
			m.ID = ID{}
		}
	}
	if string(version) != `"2.0"` {
		return nil, &DecodeError{ID: m.ID, Index: -1, Err: ErrVersion}
	}
	m.JSONRPC = Version
	if method != nil {
		var ok bool
		if m.Method, ok = unquote(method); !ok {
			return nil, bad("method")
		}
	}
	if manyParams {
		return nil, &DecodeError{ID: m.ID, Index: -1, Err: fmt.Errorf("%w: more than %d members", ErrTooManyParams, lim.MaxParams)}
	}
	if params != nil && string(params) != "null" {
		if params[0] != '{' && params[0] != '[' {
			return nil, bad("params")
		}
		m.Params = params
	}
	if result != nil {
		m.Result = result
	}
	if errRaw != nil && string(errRaw) != "null" {
		m.Error = new(Error)
		if errRaw[0] != '{' || m.Error.UnmarshalJSON(errRaw) != nil {
			return nil, bad("error")
		}
	}
	if m.Method == "" && m.Result == nil && m.Error == nil {
		return nil, &DecodeError{ID: m.ID, Index: -1, Err: ErrNoMethod}
	}
	return m, nil
}

// checkFrame applies the frame-level limits: size, nesting, valid JSON.
func checkFrame(b []byte, lim Limits) *DecodeError {
	if len(b) > lim.MaxBytes {
		return &DecodeError{Index: -1, Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)}
	}
	if isObject(b) {
		return nil // decodeOne's parse validates it as it goes
	}
	return jsonError(validate(b, lim.MaxDepth), lim.MaxDepth)
}

// isObject: b's first token opens an object.
func isObject(b []byte) bool {
	i := skipSpace(b, 0)
	return i < len(b) && b[i] == '{'
}

// jsonError is the decode error for a frame that is not valid JSON or is
// too deep (nil for nil).
func jsonError(err error, maxDepth int) *DecodeError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errTooDeep):
		return &DecodeError{Index: -1, Err: fmt.Errorf("%w: limit %d", ErrTooDeep, maxDepth)}
	default:
		return &DecodeError{Index: -1, Err: ErrNotJSON}
	}
}

// EncodeFrame writes messages as one frame: a single object, or an array
// when batch is true.
func EncodeFrame(batch bool, msgs ...*Message) ([]byte, error) {
	if !batch {
		if len(msgs) != 1 {
			return nil, fmt.Errorf("verto: a frame without batch holds one message, got %d", len(msgs))
		}
		return msgs[0].Marshal()
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, m := range msgs {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}
