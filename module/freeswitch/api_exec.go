//go:build freeswitch

package main

/*
#include "services.hh"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"unsafe"

	"xccrtc/module/xrtc"
)

// fsapi and jsapi run FreeSWITCH's API commands (the endpoint checked the
// user's jsonrpc-allowed-fsapi / -jsapi first).

var _ xrtc.APIRunner = (*fsHost)(nil)

// ExecuteAPI implements xrtc.APIRunner (switch_api_execute).
func (h *fsHost) ExecuteAPI(cmd, arg string) (string, error) {
	var m cmem
	defer m.free()
	var out *C.char
	r := C.xrtc_api_execute(m.str(cmd), m.str(arg), &out)
	text := ""
	if out != nil {
		text = C.GoString(out)
		C.free(unsafe.Pointer(out))
	}
	if r != C.XRTC_OK {
		return "", errors.New(text)
	}
	return text, nil
}

// ExecuteJSONAPI implements xrtc.APIRunner (switch_json_api_execute).
func (h *fsHost) ExecuteJSONAPI(req json.RawMessage) (json.RawMessage, error) {
	var m cmem
	defer m.free()
	var out *C.char
	r := C.xrtc_json_api_execute(m.str(string(req)), &out)
	if out != nil {
		defer C.free(unsafe.Pointer(out))
	}
	switch {
	case r == C.XRTC_NOT_SUPPORTED:
		return nil, xrtc.ErrNoJSONAPI
	case r != C.XRTC_OK || out == nil:
		return nil, errors.New("mod_xrtc: the JSON API request does not parse")
	}
	return json.RawMessage(C.GoString(out)), nil
}
