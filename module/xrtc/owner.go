package xrtc

import (
	"strings"

	"xccrtc/verto"
)

// Who may act on a call. XCtrl writes the sessid and the user of the socket
// a request came from over whatever the client sent, so the node can trust
// them; the callID is the client's word. Without this check any logged-in
// client that learnt another's callID (a conference's liveArray lists
// them) could hang the call up, transfer it, put it on hold, send DTMF on
// it, or answer a re-attach offer with its own SDP and take its media.
// mod_verto checks nothing here: it trusts that callIDs are not known.

// ownerLocked reports whether the client socket sessid of user u may act
// on c: a socket of the user who placed or answered the call (or, when the
// call has no user, the socket with its sessid), or, for a call to a user
// nobody answered yet, that user (or the one socket) it rings. c.mu is
// held.
func (c *Call) ownerLocked(sessid string, u *verto.User) bool {
	login := userLogin(u)
	switch {
	case c.user != nil && c.user.Login != "":
		// The call's user is known: any socket of that user, and no
		// other, even with the call's sessid (another user logged in
		// with it after its socket closed).
		return login != "" && strings.EqualFold(c.user.Login, login)
	case c.sessid != "":
		return sessid == c.sessid
	}
	// A call to a user, not answered: the dial string said whom it rings.
	switch r := c.route; {
	case r == nil:
		return false
	case r.Sessid != "":
		return sessid == r.Sessid
	default:
		return login != "" && strings.EqualFold(r.Login, login)
	}
}

// mayAct reports whether the client of a call request may act on c
// (ownerLocked, taking c.mu).
func (c *Call) mayAct(p *verto.CallParams) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownerLocked(p.Sessid, p.XrtcUser)
}

// userLogin is u's login, "" for none.
func userLogin(u *verto.User) string {
	if u == nil {
		return ""
	}
	return u.Login
}
