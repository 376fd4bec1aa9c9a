package testhost

import (
	"encoding/json"
	"fmt"
	"strings"

	"xccrtc/module/xrtc"
)

// The test host's small versions of FreeSWITCH's services beside the
// endpoint, so that the endpoint's chat, presence and API paths run end to
// end without FreeSWITCH:
//
//   - chat plan: a client's message to user@domain (or xrtc+user@domain) is
//     sent to that user on the xrtc chat protocol, as a chat plan with
//     <action application="send" data="xrtc"/> would; the message is also
//     kept (Chats);
//   - presence: a channel with a presence_id reports CHANNEL_CALLSTATE
//     (ACTIVE when answered, HANGUP when it ends, its current state when a
//     presence subscription probes it) through Endpoint.SwitchEvent;
//   - API commands (fsapi, jsapi): "status" and "echo <text>"; the JSON API
//     "status".

var (
	_ xrtc.APIRunner      = (*Host)(nil)
	_ xrtc.PresenceProber = (*Host)(nil)
)

// chatPlan sends a client's message on to the user it is addressed to.
func (h *Host) chatPlan(m xrtc.Chat) {
	to := m.To
	if proto, rest, ok := strings.Cut(to, "+"); ok {
		if proto != xrtc.ChatProto {
			return // another chat protocol: none here
		}
		to = rest
	}
	cs, ok := h.events().(interface{ SendChatToUser(xrtc.UserChat) error })
	if !ok {
		return
	}
	headers := map[string]string{}
	if user, host, ok := strings.Cut(m.From, "@"); ok {
		headers["from_user"], headers["from_host"] = user, host
	}
	for k, v := range m.Headers {
		headers[k] = v
	}
	if err := cs.SendChatToUser(xrtc.UserChat{From: m.From, To: to, Body: m.Body, Headers: headers}); err != nil {
		h.log.Warn("testhost: chat plan: not sent", "to", to, "err", err)
	}
}

// callstate reports a channel's call state to the endpoint, as FreeSWITCH's
// CHANNEL_CALLSTATE event does, when the channel has a presence_id.
func (c *Channel) callstate(state string) {
	sw, ok := c.h.events().(interface {
		SwitchEvent(name, subclass string, event json.RawMessage)
	})
	if !ok {
		return
	}
	c.mu.Lock()
	id := c.vars["presence_id"]
	var cp xrtc.CallerProfile
	switch {
	case c.inbound != nil:
		cp = c.inbound.Caller
	case c.outbound != nil:
		cp = c.outbound.Caller
	}
	c.mu.Unlock()
	if id == "" {
		return
	}
	b, err := json.Marshal(map[string]string{
		"Event-Name": "CHANNEL_CALLSTATE", "Channel-Call-State": state, "Unique-ID": c.uuid,
		"Caller-Caller-ID-Name": cp.CallerIDName, "Caller-Caller-ID-Number": cp.CallerIDNumber,
		"Caller-Callee-ID-Name": cp.CalleeIDName, "Caller-Callee-ID-Number": cp.CalleeIDNumber,
		"Caller-Username": cp.Username, "Channel-Presence-ID": id, "Presence-Call-Direction": c.dir.String(),
	})
	if err == nil {
		sw.SwitchEvent("CHANNEL_CALLSTATE", "", b)
	}
}

// state is the channel's call state as FreeSWITCH names it.
func (c *Channel) state() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.hungup:
		return "HANGUP"
	case c.held:
		return "HELD"
	case c.answered:
		return "ACTIVE"
	}
	select {
	case <-c.ringingCh:
		return "RINGING"
	default:
		return "DOWN"
	}
}

// ProbePresence implements xrtc.PresenceProber: the channels the presence
// channel names report their call state.
func (h *Host) ProbePresence(channel string) {
	id := ""
	if !strings.EqualFold(channel, "presence") {
		_, id, _ = strings.Cut(channel, ".")
	}
	h.mu.Lock()
	chans := make([]*Channel, 0, len(h.channels))
	for _, c := range h.channels {
		chans = append(chans, c)
	}
	h.mu.Unlock()
	for _, c := range chans {
		if v := c.Var("presence_id"); v != "" && (id == "" || v == id) {
			c.callstate(c.state())
		}
	}
}

// ExecuteAPI implements xrtc.APIRunner: status and echo.
func (h *Host) ExecuteAPI(cmd, arg string) (string, error) {
	switch cmd {
	case "status":
		st := h.Status()
		return fmt.Sprintf("UP testhost %s\n%d session(s) - peak %d\n", st.Hostname, st.Sessions, st.SessionPeakMax), nil
	case "echo":
		return arg, nil
	}
	return "", fmt.Errorf("INVALID COMMAND %q", cmd)
}

// ExecuteJSONAPI implements xrtc.APIRunner: the JSON API "status".
func (h *Host) ExecuteJSONAPI(req json.RawMessage) (json.RawMessage, error) {
	var r struct {
		Command string          `json:"command"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(req, &r); err != nil {
		return nil, err
	}
	if r.Command != "status" || len(r.Data) == 0 {
		return nil, xrtc.ErrNoJSONAPI
	}
	st := h.Status()
	return json.Marshal(map[string]any{"systemStatus": "ready", "sessions": map[string]any{"count": map[string]int{"active": st.Sessions}}})
}
