//go:build freeswitch

package main

/*
#include "services.hh"
*/
import "C"

import (
	"errors"
	"unsafe"

	"xccrtc/module/xrtc"
)

// Chat both ways (services.c): a client's message becomes a MESSAGE event
// (SendChat); FreeSWITCH's chat interface "xrtc" hands the endpoint
// messages for users (xrtcGoChatSend).

// SendChat implements xrtc.Host: a MESSAGE event with proto xrtc and the
// user's context, through the chat plan (xrtc_send_chat).
func (h *fsHost) SendChat(msg xrtc.Chat) error {
	var m cmem
	defer m.free()
	in := 0
	if msg.InDialog {
		in = 1
	}
	c := C.xrtc_chat_t{
		from: m.str(msg.From), to: m.str(msg.To), body: m.str(msg.Body), call_id: m.str(msg.CallID),
		sessid: m.str(msg.Sessid), profile: m.str(msg.Profile), in_dialog: C.int(in),
		context: m.str(msg.Context), headers: m.vars(msg.Headers),
	}
	if C.xrtc_send_chat(&c) != C.XRTC_OK {
		return errors.New("INVALID MESSAGE to and body params required")
	}
	return nil
}

// xrtcGoChatSend is the chat interface's chat_send: XRTC_OK when the
// endpoint took the message (it finds the sockets in the background).
//
//export xrtcGoChatSend
func xrtcGoChatSend(from, to, body, callID *C.char, headers *C.xrtc_vars_t) (r C.int) {
	defer func() {
		if v := recover(); v != nil {
			logPanic("ChatSend", v)
			r = C.XRTC_FAIL
		}
	}()
	m := current()
	if m == nil {
		return C.XRTC_FAIL
	}
	err := m.ep.SendChatToUser(xrtc.UserChat{
		From: C.GoString(from), To: C.GoString(to), Body: C.GoString(body), CallID: C.GoString(callID),
		Headers: goVars(headers),
	})
	if err != nil {
		m.log.Warn("mod_xrtc: chat not sent", "to", C.GoString(to), "err", err)
		return C.XRTC_FAIL
	}
	return C.XRTC_OK
}

// goVars copies C name/value pairs into a map.
func goVars(v *C.xrtc_vars_t) map[string]string {
	n := int(v.count)
	out := make(map[string]string, n)
	if n == 0 {
		return out
	}
	names := unsafe.Slice(v.names, n)
	values := unsafe.Slice(v.values, n)
	for i := range n {
		out[C.GoString(names[i])] = C.GoString(values[i])
	}
	return out
}
