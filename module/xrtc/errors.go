package xrtc

import (
	"errors"
	"fmt"

	"xccrtc/verto"
)

// CauseError is an error with the hang-up cause it stands for: what
// Originate returns, and what a Host may return to give a call a cause.
type CauseError struct {
	Cause verto.Cause
	Err   error
}

func (e *CauseError) Error() string {
	if e.Err == nil {
		return "xrtc: " + e.Cause.String()
	}
	return fmt.Sprintf("xrtc: %s: %v", e.Cause, e.Err)
}

func (e *CauseError) Unwrap() error { return e.Err }

func causeErr(c verto.Cause, format string, args ...any) error {
	return &CauseError{Cause: c, Err: fmt.Errorf(format, args...)}
}

// CauseOf returns the hang-up cause an error stands for: a CauseError's,
// INCOMPATIBLE_DESTINATION for SDP and codec errors, NONE for nil, and
// DESTINATION_OUT_OF_ORDER for anything else.
func CauseOf(err error) verto.Cause {
	if err == nil {
		return verto.CauseNone
	}
	var ce *CauseError
	if errors.As(err, &ce) {
		return ce.Cause
	}
	if errors.Is(err, ErrBadSDP) || errors.Is(err, ErrCodec) {
		return verto.CauseIncompatibleDestination
	}
	return verto.CauseDestinationOutOfOrder
}

// Verto error messages the endpoint adds to verto's.
const (
	msgAlreadyAnswered   = "CALL ALREADY ANSWERED"
	msgCodecError        = "CODEC ERROR"
	msgMediaError        = "MEDIA ERROR"
	msgCodecNegotiation  = "CODEC NEGOTIATION ERROR"
	msgNotAnsweredAttach = "Cannot attach to a call that has not been answered."
	msgActionMissing     = "action missing"
	msgDestMissing       = "destination missing"
	msgNotBridged        = "call is not bridged"
	msgInvalidLeg        = "invalid transfer leg"
	msgTransferFailed    = "transfer failed"
	msgInvalidChat       = "INVALID MESSAGE to and body params required"
	msgInvalidChannel    = "Invalid channel"
	msgNotAnswered       = "CALL NOT ANSWERED"
	msgEventChannel      = "eventChannel not specified."
	msgPermissionDenied  = "Permission Denied."
)

func sessionError(msg, callID string) *verto.Error {
	e := &verto.Error{Code: verto.CodeSessionError, Message: msg}
	if callID != "" {
		e = e.With(verto.KeyCallID, callID)
	}
	return e
}

func callNotExist(callID string) *verto.Error { return sessionError(verto.MsgCallNotExist, callID) }

// callError is mod_verto's CALL ERROR with a cause.
func callError(callID string, cause verto.Cause) *verto.Error {
	return sessionError(verto.MsgCallError, callID).With("cause", cause.String()).With("causeCode", int(cause))
}
