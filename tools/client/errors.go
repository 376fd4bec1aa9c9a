package client

import (
	"errors"
	"fmt"

	"xccrtc/verto"
)

var (
	// ErrClosed is returned by operations on a Client after Close, or after
	// its socket closed for good.
	ErrClosed = errors.New("client: closed")
	// ErrPunted is the Client's error after the server sent verto.punt (the
	// same sessid logged in elsewhere).
	ErrPunted = errors.New("client: punted by the server")
	// ErrSocketClosed is returned for requests in flight when the WebSocket
	// closes.
	ErrSocketClosed = errors.New("client: websocket closed")
	// ErrCallEnded is returned by call operations after the call ended.
	ErrCallEnded = errors.New("client: call ended")
	// ErrNotInbound is returned by Answer and Reject on a call this client
	// placed.
	ErrNotInbound = errors.New("client: not an incoming call")
)

// LoginError is a login the server refused.
type LoginError struct {
	Err *verto.Error
}

func (e *LoginError) Error() string { return "client: login refused: " + e.Err.Error() }

// Unwrap returns the server's error.
func (e *LoginError) Unwrap() error { return e.Err }

// HangupError says why a call ended before it was answered (WaitAnswered),
// or that a request failed with the server's cause.
type HangupError struct {
	Cause   string // FreeSWITCH cause name, e.g. USER_BUSY; may be empty
	Code    int    // cause number
	EndedBy string // remote, local, punt, socket, reload, error
	Err     error  // the underlying error, when there was one
}

func (e *HangupError) Error() string {
	s := "client: call ended"
	if e.Cause != "" {
		s += fmt.Sprintf(" (%s/%d)", e.Cause, e.Code)
	}
	if e.EndedBy != "" {
		s += " by " + e.EndedBy
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *HangupError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCallEnded) true.
func (e *HangupError) Is(target error) bool { return target == ErrCallEnded }
