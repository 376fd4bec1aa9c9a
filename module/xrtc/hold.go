package xrtc

import "xccrtc/verto"

// Hold. The hold state belongs to the switch (FreeSWITCH: CF_PROTO_HOLD,
// what switch_core_media_toggle_hold sets and clears, reported as
// MediaStats.Held): verto.modify reads it for every decision and for the
// holdState it answers, as mod_verto's verto__modify_func does, and the
// media watch reads it at every sample for the timeout in force. So a hold
// the switch made or undid on its own (a re-INVITE, an application) is what
// the client is told. The call keeps only the last reading, to show it in
// `xrtc status` and `xrtc calls` (state "held") without asking the switch.
//
// Hold before the answer does nothing and answers holdState "active", as
// on mod_verto (toggle_hold only holds an answered channel). A hold from
// the switch's side (uuid_hold: SWITCH_MESSAGE_INDICATE_HOLD, music to the
// far end) is not a Verto message: mod_verto sends the client nothing, and
// neither does the endpoint; it does not set CF_PROTO_HOLD, so holdState
// stays "active".

// hold carries out verto.modify hold, unhold and toggleHold.
func (e *Endpoint) hold(c *Call, ch Channel, action string, state State) {
	if !state.Answered() {
		return
	}
	held := e.readHold(c, ch)
	want := action == verto.ActionHold || (action == verto.ActionToggleHold && !held)
	if err := ch.Hold(want); err != nil {
		// mod_verto answers with the hold state whatever happened.
		e.warnQuiet("xrtc: hold refused by the switch", "call_id", c.id, "hold", want, "err", err)
	}
	if e.readHold(c, ch) != held {
		// hold and unhold restart the media watch with the timeout now in
		// force
		e.startMediaWatch(c)
	}
}

// readHold reads the hold state from the switch and keeps it on the call.
func (e *Endpoint) readHold(c *Call, ch Channel) bool {
	held := ch.MediaStats().Held
	c.mu.Lock()
	e.noteHoldLocked(c, held)
	c.mu.Unlock()
	return held
}

// noteHoldLocked records a reading of the switch's hold state (c.mu held):
// an answered call shows as held or active accordingly.
func (e *Endpoint) noteHoldLocked(c *Call, held bool) bool {
	if c.held == held {
		return false
	}
	c.held = held
	switch {
	case held && c.state == StateActive:
		e.moveLocked(c, StateHeld)
	case !held && c.state == StateHeld:
		e.moveLocked(c, StateActive)
	}
	return true
}
