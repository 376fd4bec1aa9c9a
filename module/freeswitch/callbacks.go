//go:build freeswitch

package main

/*
#include "xrtc.hh"
*/
import "C"

import (
	"context"
	"encoding/json"
	"unsafe"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// FreeSWITCH -> endpoint. Every function here runs on a FreeSWITCH thread
// (a session thread, the event-channel thread, an API thread), recovers
// from panics, and only hands the event to the endpoint, which never
// blocks on the network.

// The SDP goes to the client as FreeSWITCH wrote it, as mod_verto sends it.

//export xrtcGoChannelProgress
func xrtcGoChannelProgress(uuid, sdp *C.char) {
	defer guard("ChannelProgress")
	if m := current(); m != nil {
		m.ep.ChannelProgress(C.GoString(uuid), C.GoString(sdp))
	}
}

//export xrtcGoChannelAnswer
func xrtcGoChannelAnswer(uuid, sdp *C.char) {
	defer guard("ChannelAnswer")
	if m := current(); m != nil {
		m.ep.ChannelAnswer(C.GoString(uuid), C.GoString(sdp))
	}
}

// xrtcGoChannelInit runs on the session thread of a call to a user (on_init):
// the endpoint makes the offer there (OfferOnInit).
//
//export xrtcGoChannelInit
func xrtcGoChannelInit(uuid *C.char) {
	defer guard("ChannelInit")
	if m := current(); m != nil {
		m.ep.ChannelInit(C.GoString(uuid))
	}
}

//export xrtcGoChannelHangup
func xrtcGoChannelHangup(uuid *C.char, cause C.int) {
	defer guard("ChannelHangup")
	if m := current(); m != nil {
		m.ep.ChannelHangup(C.GoString(uuid), verto.Cause(cause))
	}
}

// xrtcGoChannelDisplay: identity is the channel's (xrtc_identity_json),
// read on the session thread.
//
//export xrtcGoChannelDisplay
func xrtcGoChannelDisplay(uuid, name, number, identity *C.char) {
	defer guard("ChannelDisplay")
	if m := current(); m != nil {
		d := xrtc.Display{Name: C.GoString(name), Number: C.GoString(number)}
		if id, err := parseIdentity(C.GoString(identity)); err == nil {
			d.Identity = &id
		}
		m.ep.ChannelDisplayUpdate(C.GoString(uuid), d)
	}
}

//export xrtcGoDeliverEvent
func xrtcGoDeliverEvent(channel, event *C.char) {
	defer guard("DeliverEvent")
	if m := current(); m != nil {
		_ = m.ep.DeliverEvent(C.GoString(channel), json.RawMessage(C.GoString(event)))
	}
}

// xrtcGoOriginate is the endpoint's outgoing_channel: it returns 0 when the
// channel was made (xrtc_new_outbound left it in the context), else the
// hang-up cause.
//
//export xrtcGoOriginate
func xrtcGoOriginate(octx unsafe.Pointer, req *C.xrtc_orig_req_t) (cause C.int) {
	defer func() {
		if v := recover(); v != nil {
			logPanic("Originate", v)
			cause = C.int(verto.CauseCrash)
		}
	}()
	m := current()
	if m == nil {
		return C.int(verto.CauseChannelUnacceptable)
	}
	vars := goVars(&req.vars)
	uuid := C.GoString(req.uuid)
	if uuid == "" {
		uuid = newUUID()
	}
	cp := &req.caller
	caller := xrtc.CallerProfile{
		Username:       C.GoString(cp.username),
		CallerIDName:   C.GoString(cp.caller_id_name),
		CallerIDNumber: C.GoString(cp.caller_id_number),
		CalleeIDName:   C.GoString(cp.callee_id_name),
		CalleeIDNumber: C.GoString(cp.callee_id_number),
		Context:        C.GoString(cp.context),
		Dialplan:       C.GoString(cp.dialplan),
		ANI:            C.GoString(cp.ani),
		ANIII:          C.GoString(cp.aniii),
		RDNIS:          C.GoString(cp.rdnis),
		NetworkAddr:    C.GoString(cp.network_addr),
		Source:         "mod_xrtc",
	}
	m.host.pending.Store(uuid, octx)
	defer m.host.pending.Delete(uuid)
	_, err := m.ep.Originate(context.Background(), xrtc.OriginateRequest{
		Target: C.GoString(req.dest),
		Vars:   vars,
		UUID:   uuid,
		Caller: caller,
	})
	if err != nil {
		c := xrtc.CauseOf(err)
		m.log.Info("mod_xrtc: originate failed", "target", C.GoString(req.dest), "cause", c.String(), "err", err)
		if c == verto.CauseNone {
			c = verto.CauseDestinationOutOfOrder
		}
		return C.int(c)
	}
	return 0
}
