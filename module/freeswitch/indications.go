//go:build freeswitch

package main

/*
#include "xrtc.hh"
*/
import "C"

import (
	"encoding/json"

	"xccrtc/module/xrtc"
)

// FreeSWITCH -> endpoint, for what mod_verto's messagehook and text frames
// send the client beside media: prompts, media params, re-negotiation and
// real-time text (mod_xrtc.c's receive_message, xrtc_ext.c). Each runs on
// a FreeSWITCH thread and only hands the event to the endpoint. A non-zero
// result makes receive_message answer SWITCH_STATUS_FALSE, as mod_verto
// does for an indication it cannot send.

//export xrtcGoChannelPrompt
func xrtcGoChannelPrompt(uuid, typ, text, regex *C.char) (r C.int) {
	defer guard("ChannelPrompt")
	m := current()
	if m == nil {
		return 0
	}
	if m.ep.ChannelPrompt(C.GoString(uuid), xrtc.Prompt{Type: C.GoString(typ), Text: C.GoString(text), Regex: C.GoString(regex)}) != nil {
		return 1
	}
	return 0
}

//export xrtcGoChannelMediaParams
func xrtcGoChannelMediaParams(uuid, params *C.char) (r C.int) {
	defer guard("ChannelMediaParams")
	m := current()
	if m == nil {
		return 0
	}
	if m.ep.ChannelMediaParams(C.GoString(uuid), json.RawMessage(C.GoString(params))) != nil {
		return 1
	}
	return 0
}

//export xrtcGoChannelMediaReneg
func xrtcGoChannelMediaReneg(uuid *C.char) {
	defer guard("ChannelMediaReneg")
	if m := current(); m != nil {
		m.ep.ChannelMediaReneg(C.GoString(uuid))
	}
}

// xrtcGoChannelText runs on the call's text thread (write_text_frame).
//
//export xrtcGoChannelText
func xrtcGoChannelText(uuid, chars *C.char) {
	defer guard("ChannelText")
	if m := current(); m != nil {
		m.ep.ChannelText(C.GoString(uuid), C.GoString(chars))
	}
}

// parseIdentity reads xrtc_identity_json's object.
func parseIdentity(js string) (xrtc.CallIdentity, error) {
	var id struct {
		CallerIDName     string            `json:"caller_id_name"`
		CallerIDNumber   string            `json:"caller_id_number"`
		CalleeIDName     string            `json:"callee_id_name"`
		CalleeIDNumber   string            `json:"callee_id_number"`
		DisplayDirection string            `json:"display_direction"`
		Headers          map[string]string `json:"headers"`
		Variables        map[string]string `json:"variables"`
	}
	if err := json.Unmarshal([]byte(js), &id); err != nil {
		return xrtc.CallIdentity{}, err
	}
	return xrtc.CallIdentity{
		CallerIDName: id.CallerIDName, CallerIDNumber: id.CallerIDNumber,
		CalleeIDName: id.CalleeIDName, CalleeIDNumber: id.CalleeIDNumber,
		Direction: id.DisplayDirection, Headers: id.Headers, Variables: id.Variables,
	}, nil
}
