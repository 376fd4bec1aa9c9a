package verto

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// JSON-RPC error codes as mod_verto uses them (mod_verto.h).
const (
	CodeInvalidRequest = -32600 // unparsable JSON, jsonrpc != "2.0", missing method
	CodeMethodNotFound = -32601 // unknown method or not allowed for the user
	CodeInvalidParams  = -32602 // handler refused (Permission Denied), wrong param types
	CodeAuthRequired   = -32000 // anything before a successful login
	CodeAuthFailed     = -32001 // failed login, Session in use
	CodeSessionError   = -32002 // call errors (CALL DOES NOT EXIST, ...)
)

// Messages mod_verto puts with its error codes.
const (
	MsgInvalidRequest  = "Invalid Request"
	MsgInvalidMessage  = "Invalid message"
	MsgMethodNotFound  = "Invalid Method, Missing Method or Permission Denied"
	MsgPermission      = "Permission Denied"
	MsgAuthRequired    = "Authentication Required"
	MsgAuthFailure     = "Authentication Failure"
	MsgLoginIncorrect  = "Login Incorrect"
	MsgMissingPasswd   = "Missing passwd"
	MsgMissingParams   = "Missing params"
	MsgBadCredentials  = "Missing or improper credentials"
	MsgSessionInUse    = "Session in use"
	MsgCallNotExist    = "CALL DOES NOT EXIST"
	MsgParamsMissing   = "Params data missing"
	MsgDialogMissing   = "Dialog data missing"
	MsgCallIDMissing   = "CallID missing"
	MsgSDPMissing      = "SDP missing"
	MsgCannotCreate    = "Cannot create channel"
	MsgCallError       = "CALL ERROR"
	MsgSessionNotFound = "SESSION NOT FOUND"
	MsgNotRegistered   = "USER_NOT_REGISTERED"
	MsgNoNode          = "NO NODE AVAILABLE"
	MsgTooLarge        = "Message too large"
	MsgBatchTooLarge   = "Batch too large"
	MsgTooManyParams   = "Too many params"
	MsgRateLimited     = "Rate limit exceeded"
)

// Error is a JSON-RPC error object. mod_verto puts handler-specific fields
// (callID, cause, causeCode, unauthorizedChannels) beside code and message;
// they live in Extra and are written at the top level of the object.
// mod_verto omits the code in a few replies (a refused subscription, a chat
// without to/body); JSON-RPC requires one, so a zero Code is written as
// CodeInvalidParams: every error object on the wire has a code.
type Error struct {
	Code    int
	Message string
	Extra   map[string]json.RawMessage
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return "verto: " + e.Message
	}
	return fmt.Sprintf("verto: %d %s", e.Code, e.Message)
}

// With returns a copy of e with field k set to v (marshalled).
func (e *Error) With(k string, v any) *Error {
	c := *e
	c.Extra = make(map[string]json.RawMessage, len(e.Extra)+1)
	for kk, vv := range e.Extra {
		c.Extra[kk] = vv
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	c.Extra[k] = b
	return &c
}

// Field decodes the extra field k into v and reports whether it was there.
func (e *Error) Field(k string, v any) bool {
	raw, ok := e.Extra[k]
	return ok && json.Unmarshal(raw, v) == nil
}

// MarshalJSON writes code, message and the extra fields in one object.
func (e *Error) MarshalJSON() ([]byte, error) {
	var o Object
	code := e.Code
	if code == 0 {
		code = CodeInvalidParams
	}
	o.Set("code", code)
	o.Set("message", e.Message)
	keys := make([]string, 0, len(e.Extra))
	for k := range e.Extra {
		if k != "code" && k != "message" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.SetRaw(k, e.Extra[k])
	}
	return o.MarshalJSON()
}

// UnmarshalJSON reads an error object, keeping unknown fields in Extra.
func (e *Error) UnmarshalJSON(b []byte) error {
	var o Object
	if err := o.UnmarshalJSON(b); err != nil {
		return err
	}
	*e = Error{}
	for _, f := range o.fields {
		switch string(f.key) {
		case "code":
			if err := json.Unmarshal(f.val, &e.Code); err != nil {
				return fmt.Errorf("verto: error code: %w", err)
			}
		case "message":
			var ok bool
			if e.Message, ok = unquote(f.val); !ok && string(f.val) != "null" {
				return fmt.Errorf("verto: error message: not a string")
			}
		default:
			if e.Extra == nil {
				e.Extra = make(map[string]json.RawMessage)
			}
			e.Extra[string(f.key)] = f.val
		}
	}
	return nil
}

// AsError returns err as an *Error: itself if it is one (or wraps one),
// otherwise a -32002 with err's text.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeSessionError, Message: err.Error()}
}

// Standard errors. Callers get copies through the functions below so they can
// add fields without sharing maps.
var (
	// ErrAuthRequired is returned for anything before a successful login.
	ErrAuthRequired = &Error{Code: CodeAuthRequired, Message: MsgAuthRequired}
	// ErrMethodNotFound is returned for an unknown or forbidden method.
	ErrMethodNotFound = &Error{Code: CodeMethodNotFound, Message: MsgMethodNotFound}
	// ErrPermission is returned when a handler refuses without details.
	ErrPermission = &Error{Code: CodeInvalidParams, Message: MsgPermission}
	// ErrCallNotExist is returned for a call-scoped message about an unknown call.
	ErrCallNotExist = &Error{Code: CodeSessionError, Message: MsgCallNotExist}
)
