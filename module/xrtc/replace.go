package xrtc

import (
	"errors"

	"xccrtc/verto"
)

// verto.modify replace: an attended transfer with any session the switch
// knows (mod_verto's verto__modify_func locates replaceCallID with
// switch_core_session_locate), not only an xrtc call of this node: a SIP
// call, a mod_verto call, a call of another client.

// msgReplaceMissing is mod_verto's answer to replace without replaceCallID.
const msgReplaceMissing = "replaceCallID missing"

// replace carries out verto.modify replace and returns the error message
// for the client ("" when it worked). The other leg, when it is an xrtc
// call of this node, must be the client's too (owner.go): a transfer
// joins the two calls' partners, and with a stranger's call it would put
// the stranger's caller on the client's line. Any other session must be
// bridged to one of the client's own calls (a consultation call's far
// end), unless the profile has replace-any-session: a session's uuid a
// client learns (presence shows each call's, a conference's liveArray each
// member's) would otherwise let it hang that session up or take its
// partner.
func (e *Endpoint) replace(c *Call, ch Channel, p *verto.CallParams) string {
	other := p.ReplaceCallID
	if other == "" {
		return msgReplaceMissing
	}
	if other == c.id || verto.CheckCallID(other) != nil {
		return msgInvalidLeg
	}
	oc := e.lookup(other)
	if oc == nil && !c.profile.ReplaceAnySession && !e.bridgedToOwnCall(p, other) {
		e.warnQuiet("xrtc: attended transfer with a session bridged to none of the client's calls refused (replace-any-session)",
			"call_id", c.id, "replaces", other, "sessid", p.Sessid, "login", userLogin(p.XrtcUser))
		return msgInvalidLeg
	}
	if oc != nil && !oc.mayAct(p) {
		e.stats.foreign.Add(1)
		e.warnQuiet("xrtc: attended transfer with another client's call refused", "call_id", c.id, "replaces", other,
			"sessid", p.Sessid, "login", userLogin(p.XrtcUser))
		return msgInvalidLeg
	}
	err := ch.Replace(other)
	switch {
	case err == nil:
		e.log.Info("xrtc: attended transfer", "call_id", c.id, "replaces", other)
		return ""
	case errors.Is(err, ErrChannelGone):
		return msgInvalidLeg
	default:
		e.log.Info("xrtc: attended transfer failed", "call_id", c.id, "replaces", other, "err", err)
		return msgTransferFailed
	}
}

// bridgedToOwnCall reports whether the session other is bridged to one of
// the calls on this node that the client asking (p) may act on.
func (e *Endpoint) bridgedToOwnCall(p *verto.CallParams, other string) bool {
	for _, c := range e.callList() {
		if !c.mayAct(p) {
			continue
		}
		c.mu.Lock()
		ch := c.ch
		c.mu.Unlock()
		if ch != nil && ch.Partner() == other {
			return true
		}
	}
	return false
}
