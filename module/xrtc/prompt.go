package xrtc

import (
	"encoding/json"
	"errors"
	"strings"

	"xccrtc/verto"
)

// verto.prompt and verto.mediaParams: what the switch asks of the client's
// user interface and media (mod_verto's messagehook,
// SWITCH_MESSAGE_INDICATE_PROMPT and SWITCH_MESSAGE_INDICATE_MEDIA_PARAMS).

// Prompt is a request to the client's user to enter something: type "dtmf"
// (digits, Regex optionally says which) or "message", with a text to show.
// (FreeSWITCH: switch_ivr_send_prompt.)
type Prompt struct {
	Type  string
	Text  string
	Regex string
}

// ErrBadIndication is returned for an indication the client cannot be sent
// (a prompt of another type or without text, media params that are not
// JSON); the switch answers the indication with a failure, as mod_verto
// does.
var ErrBadIndication = errors.New("xrtc: indication refused")

// ChannelPrompt sends the client verto.prompt {callID, type, text, regex}.
// As mod_verto, only "dtmf" and "message" prompts with a text go out (the
// type as the switch wrote it); anything else is ErrBadIndication. A call
// without a client to tell is not an error (mod_verto: no socket, nothing
// sent).
func (e *Endpoint) ChannelPrompt(uuid string, p Prompt) (err error) {
	e.safely("ChannelPrompt", func() {
		if (!strings.EqualFold(p.Type, "dtmf") && !strings.EqualFold(p.Type, "message")) || p.Text == "" {
			e.log.Warn("xrtc: prompt refused: type must be dtmf or message, with a text", "call_id", uuid, "type", p.Type)
			err = ErrBadIndication
			return
		}
		extra := map[string]any{"type": p.Type, "text": p.Text}
		if p.Regex != "" {
			extra["regex"] = p.Regex
		}
		e.indicateExtra(uuid, verto.MethodPrompt, extra)
	})
	return err
}

// ChannelMediaParams sends the client verto.mediaParams {callID,
// mediaParams}: constraints for its media (mod_conference or
// uuid_media_params: {"video":{"width":..., "height":..., "frameRate":...}}).
// params that are not a JSON value are ErrBadIndication.
func (e *Endpoint) ChannelMediaParams(uuid string, params json.RawMessage) (err error) {
	e.safely("ChannelMediaParams", func() {
		if len(params) == 0 || !json.Valid(params) {
			e.log.Warn("xrtc: media params refused: not JSON", "call_id", uuid)
			err = ErrBadIndication
			return
		}
		e.indicateExtra(uuid, verto.MethodMediaParams, map[string]any{"mediaParams": json.RawMessage(params)})
	})
	return err
}

// indicateExtra sends a call message with the given params beside callID
// to the call's client, if the call has one. While the verto.invite that
// creates a client's call is being answered it waits behind it, as
// indicate does (FreeSWITCH starts a call's text thread, which writes at
// once, before the invite's result).
func (e *Endpoint) indicateExtra(uuid, method string, extra map[string]any) {
	c := e.lookup(uuid)
	if c == nil {
		return
	}
	send := func() {
		if st := c.getState(); st == StateHangup || st == StateNew {
			return
		}
		if err := e.toClientWith(c, method, &verto.ServerCallParams{}, extra); err != nil {
			e.log.Warn("xrtc: "+method+" not sent", "call_id", uuid, "err", err)
		}
	}
	if c.getState() == StateNew {
		e.runCall(c, method, send)
		return
	}
	send()
}
