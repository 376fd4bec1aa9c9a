//go:build freeswitch

package main

/*
#include "services.hh"
*/
import "C"

import (
	"encoding/json"
	"unsafe"

	"xccrtc/module/xrtc"
)

// The presence and FSevent channels (services.c binds every event and
// passes on what the endpoint wants).

var (
	_ xrtc.EventFilter    = (*fsHost)(nil)
	_ xrtc.PresenceProber = (*fsHost)(nil)
)

// xrtcGoSwitchEvent is an event the endpoint wants, as
// switch_event_serialize_json writes it.
//
//export xrtcGoSwitchEvent
func xrtcGoSwitchEvent(name, subclass, event *C.char) {
	defer guard("SwitchEvent")
	if m := current(); m != nil {
		m.ep.SwitchEvent(C.GoString(name), C.GoString(subclass), json.RawMessage(C.GoString(event)))
	}
}

// WantEvents implements xrtc.EventFilter: only the events the endpoint can
// use are serialised and passed to Go.
func (h *fsHost) WantEvents(w xrtc.EventWants) {
	C.xrtc_want_events(cbool(w.Presence), cbool(w.FSEvents))
}

// ProbePresence implements xrtc.PresenceProber (mod_verto's presence_ping).
func (h *fsHost) ProbePresence(channel string) {
	c := C.CString(channel)
	defer C.free(unsafe.Pointer(c))
	C.xrtc_presence_probe(c)
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
