//go:build freeswitch

package main

/*
#include "services.hh"
*/
import "C"

import "xccrtc/verto"

// xrtcGoContact is the xrtc_contact API (mod_verto's verto_contact): the
// per-socket dial strings of a user's sockets, error/user_not_registered
// when there is none. The C caller frees the string.
//
//export xrtcGoContact
func xrtcGoContact(target *C.char) (out *C.char) {
	defer func() {
		if v := recover(); v != nil {
			logPanic("xrtc_contact", v)
			out = C.CString("error/" + verto.CauseCrash.String())
		}
	}()
	m := current()
	if m == nil {
		return C.CString("error/" + verto.CauseDestinationOutOfOrder.String())
	}
	return C.CString(m.ep.ContactDialString(C.GoString(target)))
}
