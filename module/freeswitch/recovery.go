//go:build freeswitch

package main

/*
#include "xrtc.hh"
*/
import "C"

import (
	"fmt"
	"unsafe"

	"xccrtc/module/xrtc"
)

// xrtcGoRecover is mod_xrtc's secondary recovery callback (xrtc_ext.c), for
// a session `fsctl recover` brought back: the session's media is set up
// from its xrtc profile and the endpoint takes the call back (it re-offers
// it to its client when the session starts, xrtcGoChannelInit). It returns
// 0 when it did; otherwise the session is hung up when it starts.
//
//export xrtcGoRecover
func xrtcGoRecover(session unsafe.Pointer, rc *C.xrtc_recovered_t) (r C.int) {
	defer func() {
		if v := recover(); v != nil {
			logPanic("Recover", v)
			r = 1
		}
	}()
	m := current()
	if m == nil {
		return 1
	}
	call := xrtc.RecoveredCall{
		UUID:        C.GoString(rc.uuid),
		Direction:   xrtc.Inbound,
		Profile:     C.GoString(rc.profile),
		Sessid:      C.GoString(rc.sessid),
		CtrlUUID:    C.GoString(rc.ctrl_uuid),
		Login:       C.GoString(rc.login),
		Destination: C.GoString(rc.destination_number),
		Caller: xrtc.CallerProfile{
			CallerIDName: C.GoString(rc.caller_id_name), CallerIDNumber: C.GoString(rc.caller_id_number),
			CalleeIDName: C.GoString(rc.callee_id_name), CalleeIDNumber: C.GoString(rc.callee_id_number),
			DestinationNumber: C.GoString(rc.destination_number), Source: "mod_xrtc",
		},
	}
	if rc.outbound != 0 {
		call.Direction = xrtc.Outbound
	}
	if err := m.recover(session, call); err != nil {
		m.log.Warn("mod_xrtc: call not recovered", "call_id", call.UUID, "err", err)
		return 1
	}
	return 0
}

// recover sets a recovered session's media up from its profile and hands
// the call to the endpoint.
func (m *module) recover(session unsafe.Pointer, call xrtc.RecoveredCall) error {
	prof, ok := m.ep.Profile(call.Profile)
	if !ok {
		return fmt.Errorf("no profile %q (verto_profile_name)", call.Profile)
	}
	var cm cmem
	defer cm.free()
	media := m.host.media(&cm, prof)
	inbound := cbool(call.Direction == xrtc.Inbound)
	if err := statusErr(C.xrtc_recover_setup(session, &media, inbound)); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	return m.ep.RecoverCall(call, &fsChannel{uuid: call.UUID, host: m.host})
}
