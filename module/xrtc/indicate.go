package xrtc

import (
	"xccrtc/verto"
)

// The switch reports on a channel: early media, answer, hang-up and display
// go to the client (mod_verto messagehook and verto_on_hangup).

// ChannelProgress reports early media on a client's call: the client gets
// verto.media with the local SDP. (FreeSWITCH: receive_message
// SWITCH_MESSAGE_INDICATE_PROGRESS.)
func (e *Endpoint) ChannelProgress(uuid, localSDP string) {
	e.safely("ChannelProgress", func() { e.indicate(uuid, verto.MethodMedia, localSDP) })
}

// ChannelAnswer reports that the switch answered a client's call: the
// client gets verto.answer, with the local SDP unless verto.media carried it.
// (FreeSWITCH: receive_message SWITCH_MESSAGE_INDICATE_ANSWER.) For a call to
// a user it is ignored: the client answered it.
func (e *Endpoint) ChannelAnswer(uuid, localSDP string) {
	e.safely("ChannelAnswer", func() { e.indicate(uuid, verto.MethodAnswer, localSDP) })
}

// indicate sends verto.media / verto.answer on the caller's thread, as
// mod_verto writes them from the session's thread: what the switch does next
// for the call (a conference join event, say) comes after it. Only while
// the verto.invite that created the call is still being answered does it
// wait on the call's queue, so that "CALL CREATED" comes first.
func (e *Endpoint) indicate(uuid, method, sdp string) {
	c := e.lookup(uuid)
	if c == nil {
		return
	}
	if c.getState() == StateNew {
		e.runCall(c, method, func() { e.mediaIndication(c, method, sdp) })
		return
	}
	e.mediaIndication(c, method, sdp)
}

func (e *Endpoint) mediaIndication(c *Call, method, sdp string) {
	c.mu.Lock()
	if c.dir != Inbound || c.state == StateHangup || c.state == StateNew {
		c.mu.Unlock()
		return
	}
	to := StateEarly
	if method == verto.MethodAnswer {
		to = StateActive
	}
	if c.state == to || (to == StateEarly && c.state.Answered()) {
		c.mu.Unlock()
		return
	}
	if !e.moveLocked(c, to) {
		c.mu.Unlock()
		return
	}
	p := &verto.ServerCallParams{}
	if !c.sentMedia {
		p.SDP = sdp
	}
	c.sentMedia = true
	if to == StateActive {
		c.answeredAt = e.clock.Now()
	}
	c.mu.Unlock()
	// The watch is armed before the client hears of the media, so that
	// nothing the client does next can come before it.
	e.startMediaWatch(c)
	if err := e.toClient(c, method, p); err != nil {
		// The client will never learn about its media: fail the call
		// cleanly, as mod_verto does when its socket write fails.
		e.log.Warn("xrtc: "+method+" not sent, hanging up", "call_id", c.id, "err", err)
		c.mu.Lock()
		c.quiet = true
		c.mu.Unlock()
		e.runCall(c, "indication failed", func() { e.endCall(c, verto.CauseDestinationOutOfOrder, true, false) })
	}
}

// ChannelHangup reports that a channel hung up, for whatever reason: the
// client is told with verto.bye (cause and causeCode) unless it ended the
// call itself. (FreeSWITCH: the on_hangup state handler.)
func (e *Endpoint) ChannelHangup(uuid string, cause verto.Cause) {
	e.safely("ChannelHangup", func() {
		if c := e.lookup(uuid); c != nil {
			e.runCall(c, "hangup", func() { e.endCall(c, cause, false, true) })
		}
	})
}
