package xrtc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"xccrtc/conf"
	"xccrtc/verto"
)

// UserLookup is an optional Host method: a switch that can look users up in
// its own directory implements it, and the endpoint then answers XCtrl's
// xrtc.lookupUser (XCtrl's --user-lookup node), so that whatever directory
// backend the switch has serves XCtrl's logins. FreeSWITCH's binding calls
// switch_xml_locate_user_merged("id", ...) as mod_verto's login does; the
// test host reads a map.
type UserLookup interface {
	// LookupUser returns the user id@domain with its params and variables
	// merged as switch_xml_locate_user_merged merges them (the user's own
	// first, in order), nil and no error when the directory has no such
	// user. It may block (a directory behind HTTP or a database) but should
	// give up when ctx ends.
	LookupUser(ctx context.Context, q UserQuery) (*conf.User, error)
}

// UserQuery is one user lookup.
type UserQuery struct {
	ID, Domain string
	// Params are the request's headers as mod_verto sends them to the
	// directory: the client's loginParams, then action=jsonrpc-authenticate.
	Params []conf.Pair
}

// lookupTimeout bounds a host's LookupUser; XCtrl gives up sooner (3 s by
// default).
const lookupTimeout = 5 * time.Second

// lookupUser answers xrtc.lookupUser: the host finds the user, the
// endpoint checks the password digest as mod_verto checks a password, and
// the answer carries the verdict and the user without its credentials.
func (e *Endpoint) lookupUser(r *request) {
	var p verto.LookupUserParams
	if err := r.msg.DecodeParams(&p); err != nil {
		e.respond(r, nil, verto.AsError(err))
		return
	}
	r.ctrlUUID = p.CtrlUUID
	ul, ok := e.host.(UserLookup)
	if !ok {
		e.respond(r, nil, &verto.Error{Code: verto.CodeMethodNotFound, Message: verto.MsgLookupUnsupported})
		return
	}
	if p.ID == "" || p.Domain == "" {
		e.respond(r, nil, &verto.Error{Code: verto.CodeInvalidParams, Message: "id and domain are required"})
		return
	}
	q := UserQuery{ID: p.ID, Domain: p.Domain}
	for _, k := range slices.Sorted(maps.Keys(p.LoginParams)) {
		q.Params = append(q.Params, conf.Pair{Name: k, Value: p.LoginParams[k]})
	}
	q.Params = append(q.Params, conf.Pair{Name: "action", Value: "jsonrpc-authenticate"})
	started := e.spawn("xrtc.lookupUser", func() {
		ctx, cancel := context.WithTimeout(e.ctx, lookupTimeout)
		defer cancel()
		u, err := ul.LookupUser(ctx, q)
		res := verto.LookupUserResult{NodeUUID: e.nodeUUID}
		switch {
		case err != nil:
			e.warnQuiet("xrtc: user lookup failed", "user", p.ID+"@"+p.Domain, "err", err)
			e.respond(r, nil, &verto.Error{Code: verto.CodeSessionError, Message: fmt.Sprintf("USER LOOKUP FAILED: %v", err)})
			return
		case u == nil:
			res.Verdict = verto.LookupNotFound
		case p.A1 != "" && !u.CheckA1(p.ID, p.Domain, p.A1):
			res.Verdict = verto.LookupBadPassword
		default:
			res.Verdict = verto.LookupOK
			res.User = u.Wire()
		}
		e.respond(r, res, nil)
	})
	if !started {
		e.respond(r, nil, &verto.Error{Code: verto.CodeSessionError, Message: "endpoint stopping"})
	}
}
