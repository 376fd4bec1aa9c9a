package xrtc

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"xccrtc/verto"
)

// Real-time text (profile enable-text), as mod_verto maps it onto the
// switch's text frames: a client's verto.info {txt:{chars}} or
// {txt:{code}} is read by the call's text thread (FreeSWITCH:
// read_text_frame; a bridge passes it on, echo returns it, fire_text_events
// makes TEXT events), and what the switch writes to the call (uuid_send_text,
// a bridged partner's text, echo) goes to the client as verto.info
// {callID, txt:{chars}}. Without enable-text the client's txt is ignored and
// the switch has no text to send (mod_verto: no text buffers).

// TextOf reads the characters of a client's txt: {"chars":"..."} (a number
// there is one character code), or {"code":n}, one character; "" when there
// are none. As mod_verto, a code is taken as one byte; a code beyond a byte
// is refused here rather than cut.
func TextOf(txt json.RawMessage) (string, error) {
	var t struct {
		Chars json.RawMessage `json:"chars"`
		Code  *int            `json:"code"`
	}
	if err := json.Unmarshal(txt, &t); err != nil {
		return "", fmt.Errorf("xrtc: txt: %w", err)
	}
	code := func(n int) (string, error) {
		if n <= 0 || n > 0xff {
			return "", fmt.Errorf("xrtc: txt: character code %d out of range", n)
		}
		if n < utf8.RuneSelf {
			return string(rune(n)), nil
		}
		return string([]byte{byte(n)}), nil
	}
	if t.Code != nil {
		return code(*t.Code)
	}
	if len(t.Chars) == 0 || string(t.Chars) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(t.Chars, &s); err == nil {
		return s, nil
	}
	var n int
	if err := json.Unmarshal(t.Chars, &n); err == nil {
		return code(n)
	}
	return "", fmt.Errorf("xrtc: txt: chars must be a string or a character code")
}

// ChannelText sends text the switch wrote to a call to its client:
// verto.info {callID, txt:{chars}} (FreeSWITCH: the endpoint's
// write_text_frame, on the call's text thread). Nothing goes out for a call
// without a client.
func (e *Endpoint) ChannelText(uuid, chars string) {
	e.safely("ChannelText", func() {
		if chars == "" {
			return
		}
		e.indicateExtra(uuid, verto.MethodInfo, map[string]any{"txt": map[string]string{"chars": chars}})
	})
}
