package client

import (
	"context"
	"encoding/json"

	"xccrtc/verto"
)

// More call controls of verto.js: toggleHold, an attended transfer
// (replace), real-time text.

// ToggleHold asks the server to toggle the call's hold (verto.modify
// toggleHold) and returns the hold state it reports.
func (call *Call) ToggleHold(ctx context.Context) (string, error) {
	return call.modify(ctx, verto.ActionToggleHold)
}

// Replace is an attended transfer (verto.modify replace): the far end of
// this call and the far end of the session otherCallID are connected.
func (call *Call) Replace(ctx context.Context, otherCallID string) error {
	if err := call.Err(); err != nil {
		return err
	}
	_, err := call.c.request(ctx, verto.MethodModify, call.params("", func(p *callParams) {
		p.Action, p.ReplaceCallID = verto.ActionReplace, otherCallID
	}), 0)
	return err
}

// SendText sends real-time text on the call (verto.info txt {chars}), as
// verto.js does for each character typed (the server takes it only with
// its profile's enable-text).
func (call *Call) SendText(ctx context.Context, chars string) error {
	if err := call.Err(); err != nil {
		return err
	}
	txt, err := json.Marshal(map[string]string{"chars": chars})
	if err != nil {
		return err
	}
	_, err = call.c.request(ctx, verto.MethodInfo, call.params("", func(p *callParams) { p.Txt = txt }), 0)
	return err
}

// infoText is what a server verto.info says: a chat message ("from: body")
// or real-time text (txt.chars).
func infoText(p *verto.ServerCallParams, raw json.RawMessage) string {
	if p.Msg != nil {
		return p.Msg.From + ": " + p.Msg.Body
	}
	var t struct {
		Txt struct {
			Chars string `json:"chars"`
		} `json:"txt"`
	}
	if json.Unmarshal(raw, &t) == nil {
		return t.Txt.Chars
	}
	return ""
}
