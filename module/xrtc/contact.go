package xrtc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"xccrtc/verto"
)

// Contacts: the dial strings of a user's sockets (mod_verto's verto_contact
// and verto_get_dial_string). The node keeps no copy of who is logged in
// where: it asks XCtrl (xrtc.contact on the profile's xrtc-ctrl-subject),
// which answers from the registry in NATS.

// ContactTimeout bounds the wait for XCtrl's answer to xrtc.contact.
const ContactTimeout = 3 * time.Second

// ContactUsage is the help text of the xrtc_contact API.
const ContactUsage = "[profile/]user[@domain]"

// ErrNoContact is returned by Contacts when no XCtrl answered (none
// listens on the subject, or it took longer than ContactTimeout).
var ErrNoContact = errors.New("xrtc: no XCtrl answered xrtc.contact")

// Contacts returns the sockets of a user, asking XCtrl on the profile's
// xrtc-ctrl-subject. target is [profile/]user[@domain] (a missing domain
// is the profile's force-register-domain, else the switch's); the route it
// resolves to comes back too. An empty list is a user without socket.
func (e *Endpoint) Contacts(ctx context.Context, target string) ([]verto.Contact, *verto.Route, error) {
	d, err := verto.ParseTarget(strings.TrimSpace(target))
	if err != nil {
		return nil, nil, &CauseError{Cause: verto.CauseInvalidNumberFormat, Err: err}
	}
	if d.Sessid != "" || len(d.Params) > 0 {
		return nil, nil, causeErr(verto.CauseInvalidNumberFormat, "%q: a contact is looked up by user, not by socket or parameters", target)
	}
	route, err := e.resolve(e.config(), d)
	if err != nil {
		return nil, nil, err
	}
	socks, err := e.contacts(ctx, route.Subject, route.Login)
	return socks, route, err
}

// contacts sends xrtc.contact for login to subject and reads the answer.
func (e *Endpoint) contacts(ctx context.Context, subject, login string) ([]verto.Contact, error) {
	m, err := verto.NewRequest(e.nextID(), verto.MethodXrtcContact, verto.ContactParams{Login: login, NodeUUID: e.nodeUUID})
	if err != nil {
		return nil, err
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ContactTimeout)
	defer cancel()
	reply, err := e.bus.Request(ctx, subject, data)
	switch {
	case errors.Is(err, ErrNoResponders) || errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: %s: %w", ErrNoContact, subject, err)
	case err != nil:
		return nil, fmt.Errorf("xrtc: xrtc.contact %s: %w", login, err)
	}
	rm, err := verto.DecodeMessage(reply, e.opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("xrtc: xrtc.contact %s: %w", login, err)
	}
	if rm.Error != nil {
		return nil, fmt.Errorf("xrtc: xrtc.contact %s: %w", login, rm.Error)
	}
	var res verto.ContactResult
	if err := rm.DecodeResult(&res); err != nil {
		return nil, fmt.Errorf("xrtc: xrtc.contact %s: %w", login, err)
	}
	out := res.Sockets[:0]
	for _, s := range res.Sockets {
		if verto.CheckSessid(s.Sessid) == nil && verto.CheckCtrlRef(s.CtrlUUID) == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// ContactDialString is the xrtc_contact API (mod_verto's verto_contact):
// one per-socket dial string for every socket of the user,
// "xrtc/u:<sessid>,xrtc/u:<sessid>", so that each device is its own leg
// (CDRs, group_confirm, leg_timeout, originate_continue_on_timeout), or
// error/user_not_registered when the user has no socket. A profile named in
// target is kept in the dial strings. When XCtrl cannot be asked the answer
// is error/no_user_response, a bad target error/invalid_number_format, an
// unknown profile error/channel_unacceptable: the leg fails with that
// cause, and the log says why.
func (e *Endpoint) ContactDialString(target string) (out string) {
	defer func() {
		if v := recover(); v != nil {
			e.stats.panics.Add(1)
			e.log.Error("xrtc: recovered panic in xrtc_contact", "target", target, "panic", fmt.Sprint(v))
			out = errorDialString(verto.CauseCrash)
		}
	}()
	socks, route, err := e.Contacts(e.ctx, target)
	if err != nil {
		cause := verto.CauseNoUserResponse
		var ce *CauseError
		if errors.As(err, &ce) {
			cause = ce.Cause
		}
		e.log.Warn("xrtc: xrtc_contact failed", "target", target, "err", err)
		return errorDialString(cause)
	}
	profile := ""
	if d, _ := verto.ParseTarget(strings.TrimSpace(target)); d != nil {
		profile = d.Profile
	}
	var b strings.Builder
	for _, s := range socks {
		if !verto.SocketDialable(s.Sessid) {
			e.log.Warn("xrtc: xrtc_contact: a sessid that cannot be written in a dial string is left out", "login", route.Login, "sessid", s.Sessid)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(verto.SocketDialString(profile, s.Sessid))
	}
	if b.Len() == 0 {
		return verto.NotRegisteredDialString
	}
	return b.String()
}

// errorDialString is FreeSWITCH's error endpoint with a cause:
// error/user_not_registered.
func errorDialString(c verto.Cause) string {
	return "error/" + strings.ToLower(c.String())
}

// socketTarget is what a call to one socket (xrtc/u:<sessid>) is to: its
// destination "u:<sessid>", as mod_verto names the leg, and the user the
// originate dialed when it went through the directory (user/1000: the
// dialed_user variable FreeSWITCH sets), "" otherwise.
func socketTarget(route *verto.Route, vars map[string]string) (dest, user string) {
	return verto.SocketPrefix + route.Sessid, vars["dialed_user"]
}

// socketLogin is the login a call is to: the route's, or for a call to one
// socket dialed_user@dialed_domain when the originate went through the
// directory (mod_verto's verto_orig_dest), "" when nothing says.
func socketLogin(route *verto.Route, vars map[string]string) string {
	if route.Sessid == "" {
		return route.Login
	}
	user, domain := vars["dialed_user"], vars["dialed_domain"]
	if user == "" || domain == "" {
		return user
	}
	return user + "@" + domain
}
