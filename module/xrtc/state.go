package xrtc

import "fmt"

// State is where a call is in its life. The endpoint moves a call only along
// the edges of the transition table (CanTransition); a move along any other
// edge is a bug and is refused with an error.
type State int

// Call states.
const (
	StateNew      State = iota // registered, channel not created yet
	StateTrying                // channel created (browser call) or invite sent (call to a user)
	StateRinging               // XCtrl rings the user's sockets
	StateEarly                 // early media sent to the browser (verto.media)
	StateActive                // answered, media flows
	StateHeld                  // answered and on hold
	StateDetached              // answered, the client's socket is gone; waiting for re-attach
	StateHangup                // over
)

var stateNames = [...]string{"new", "trying", "ringing", "early", "active", "held", "detached", "hangup"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Answered reports whether a call in state s has been answered.
func (s State) Answered() bool { return s == StateActive || s == StateHeld || s == StateDetached }

// transitions lists the allowed moves. Hangup is reachable from everywhere
// except itself; nothing leaves Hangup.
var transitions = map[State][]State{
	StateNew:      {StateTrying, StateHangup},
	StateTrying:   {StateRinging, StateEarly, StateActive, StateHangup},
	StateRinging:  {StateEarly, StateActive, StateHangup},
	StateEarly:    {StateActive, StateHangup},
	StateActive:   {StateHeld, StateDetached, StateHangup},
	StateHeld:     {StateActive, StateDetached, StateHangup},
	StateDetached: {StateActive, StateHeld, StateHangup},
}

// CanTransition reports whether a call may move from one state to another.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ErrBadTransition is wrapped by the error of a refused state change.
var ErrBadTransition = fmt.Errorf("xrtc: state transition not allowed")
