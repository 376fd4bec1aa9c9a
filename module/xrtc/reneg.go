package xrtc

import "xccrtc/verto"

// Re-negotiation from the switch (mod_verto's messagehook,
// SWITCH_MESSAGE_INDICATE_MEDIA_RENEG).

// ChannelMediaReneg re-offers an answered call's media to its client
// (FreeSWITCH: uuid_media_reneg), as mod_verto does: the media stops and a
// fresh offer (new ICE and DTLS) goes to the client with verto.attach, the
// re-attach path; the client answers with verto.attach and the media starts
// again. Until it answers the call waits as a detached one
// (detach-timeout-sec). A call that is not answered, or has no client
// socket (detached), is left alone.
func (e *Endpoint) ChannelMediaReneg(uuid string) {
	e.safely("ChannelMediaReneg", func() {
		if c := e.lookup(uuid); c != nil {
			e.runCall(c, "media reneg", func() { e.reneg(c) })
		}
	})
}

func (e *Endpoint) reneg(c *Call) {
	c.mu.Lock()
	st, ch, sessid, ctrl := c.state, c.ch, c.sessid, c.ctrlUUID
	c.mu.Unlock()
	if ch == nil || !st.Answered() || st == StateDetached || sessid == "" || ctrl == "" {
		e.log.Info("xrtc: media renegotiation ignored: the call has no answered client", "call_id", c.id, "state", st.String())
		return
	}
	// switch_core_session_stop_media, then tech_reattach
	if err := ch.Detach(); err != nil {
		e.log.Warn("xrtc: media renegotiation: cannot stop the media", "call_id", c.id, "err", err)
		return
	}
	if e.reattach(c, &verto.ControlParams{Sessid: sessid, CtrlUUID: ctrl}) {
		e.log.Info("xrtc: media re-offered to the client", "call_id", c.id, "sessid", sessid)
	}
}
