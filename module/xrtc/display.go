package xrtc

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"xccrtc/verto"
)

// verto.display, and the call identity mod_verto puts into every message
// that (re)introduces a call (set_call_params: verto.display, verto.attach,
// verto.invite).

// CallIdentity is a channel's identity as the switch has it now: caller and
// callee ids, the direction the client shows (display_direction: "inbound"
// for a client's call, "outbound" for a call to a user, FreeSWITCH's
// channel direction), and the channel variables mod_verto copies into
// messages: verto_h_* as top-level params, verto_svar_* into "variables"
// (verto.attach, verto.answer, verto.media).
type CallIdentity struct {
	CallerIDName   string
	CallerIDNumber string
	CalleeIDName   string
	CalleeIDNumber string
	Direction      string
	Headers        map[string]string // verto_h_* variables, names kept
	Variables      map[string]string // verto_svar_* variables, names kept
}

// IdentityReader is an optional Channel interface: a channel that reads
// its identity from the switch (FreeSWITCH: the caller profile and channel
// variables, as set_call_params reads them). Without it the endpoint uses
// the caller profile the call started with.
type IdentityReader interface {
	Identity() (CallIdentity, error)
}

// Display is a display update of a call (FreeSWITCH:
// SWITCH_MESSAGE_INDICATE_DISPLAY, e.g. uuid_display, a bridge, or an
// eavesdropped call's display).
type Display struct {
	Name   string
	Number string
	// Identity is the channel's identity at the time of the update; nil:
	// the endpoint reads it (identity).
	Identity *CallIdentity
}

// ChannelDisplay reports a new remote party display: the client gets
// verto.display with display_name, display_number and the call's identity
// (caller and callee ids, display_direction, verto_h_* headers), as
// mod_verto sends it.
func (e *Endpoint) ChannelDisplay(uuid, name, number string) {
	e.ChannelDisplayUpdate(uuid, Display{Name: name, Number: number})
}

// ChannelDisplayUpdate is ChannelDisplay with the channel's identity as the
// switch had it when it indicated the display (FreeSWITCH passes it from
// the session thread, where reading the channel is free).
func (e *Endpoint) ChannelDisplayUpdate(uuid string, d Display) {
	e.safely("ChannelDisplay", func() {
		c := e.lookup(uuid)
		if c == nil {
			return
		}
		if st := c.getState(); st == StateHangup || st == StateNew {
			return
		}
		id := d.Identity
		if id == nil {
			v := e.identity(c)
			id = &v
		}
		p := &verto.ServerCallParams{DisplayName: d.Name, DisplayNumber: d.Number}
		setIdentity(p, id)
		if err := e.toClientWith(c, verto.MethodDisplay, p, headerFields(id)); err != nil {
			e.log.Warn("xrtc: verto.display not sent", "call_id", c.id, "err", err)
		}
	})
}

// identity reads the call's identity from the switch when the channel can,
// else builds it from what the call started with.
func (e *Endpoint) identity(c *Call) CallIdentity {
	c.mu.Lock()
	ch, cp, dir := c.ch, c.caller, c.dir
	c.mu.Unlock()
	if r, ok := ch.(IdentityReader); ok && ch != nil {
		if id, err := r.Identity(); err == nil {
			return id
		}
	}
	return CallIdentity{
		CallerIDName: cp.CallerIDName, CallerIDNumber: cp.CallerIDNumber,
		CalleeIDName: cp.CalleeIDName, CalleeIDNumber: cp.CalleeIDNumber,
		Direction: dir.String(),
	}
}

// setIdentity fills the identity fields of a node->client message.
func setIdentity(p *verto.ServerCallParams, id *CallIdentity) {
	p.CallerIDName, p.CallerIDNumber = id.CallerIDName, id.CallerIDNumber
	p.CalleeIDName, p.CalleeIDNumber = id.CalleeIDName, id.CalleeIDNumber
	p.DisplayDirection = id.Direction
}

// headerFields are the verto_h_* variables as top-level params.
func headerFields(id *CallIdentity) map[string]any {
	if len(id.Headers) == 0 {
		return nil
	}
	out := make(map[string]any, len(id.Headers))
	for k, v := range id.Headers {
		if strings.HasPrefix(strings.ToLower(k), "verto_h_") {
			out[k] = v
		}
	}
	return out
}

// withFields marshals p with more top-level params (they replace a field of
// p of the same name).
func withFields(p any, extra map[string]any) (json.RawMessage, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("xrtc: params: %w", err)
	}
	return verto.EditParams(b, func(o *verto.Object) {
		for _, k := range sortedKeys(extra) {
			if raw, ok := extra[k].(json.RawMessage); ok {
				o.SetRaw(k, raw)
			} else {
				o.Set(k, extra[k])
			}
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
