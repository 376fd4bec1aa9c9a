package testhost

import (
	"encoding/json"
	"fmt"
	"sync"

	"xccrtc/verto"
)

// conference is the test host's stand-in for mod_conference: it mixes
// nothing, but keeps the member list as a liveArray and answers on the
// conference's event channels the way mod_conference does (PROTOCOL.md 5):
// pvtData join/part to the member's socket, liveArray add/del/modify and
// bootObj (to the requester only), chat re-broadcast, moderator replies.
type conference struct {
	h            *Host
	name, domain string

	mu      sync.Mutex
	members []*member
	nextID  int
	serno   int
}

type member struct {
	id        int
	ch        *Channel
	sessid    string
	moderator bool
	muted     bool
	name      string
	number    string
}

func newConference(h *Host, name, domain string) *conference {
	return &conference{h: h, name: name, domain: domain}
}

func (c *conference) channel(kind string) string {
	return "conference-" + kind + "." + c.name + "@" + c.domain
}

func (c *conference) owns(ch string) bool {
	switch ch {
	case c.channel("liveArray"), c.channel("chat"), c.channel("mod"), c.channel("info"):
		return true
	}
	return false
}

func (m *member) row() []any {
	status, _ := json.Marshal(map[string]any{
		"audio": map[string]any{"muted": m.muted, "deaf": false, "onHold": m.ch.Held(), "talking": false, "floor": false, "energyScore": 0},
		"video": false,
	})
	return []any{fmt.Sprintf("%04d", m.id), m.number, m.name, "PCMU@8000", string(status), map[string]any{}, nil}
}

func (c *conference) deliver(channel string, ev map[string]any) {
	e := c.h.events()
	if e == nil {
		return
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if err := e.DeliverEvent(channel, b); err != nil {
		c.h.log.Warn("testhost: conference event not delivered", "channel", channel, "err", err)
	}
}

func (c *conference) pvt(m *member, action string) map[string]any {
	p := verto.PvtData{
		CallID: m.ch.uuid, Action: action, LAChannel: c.channel("liveArray"), LAName: c.name,
		Role: "participant", ChatID: "conf+" + c.name + "@" + c.domain, ConferenceMemberID: verto.Flex(fmt.Sprint(m.id)),
		CanvasCount: 1, ChatChannel: c.channel("chat"), InfoChannel: c.channel("info"),
	}
	if m.moderator {
		p.Role, p.ModChannel = "moderator", c.channel("mod")
	}
	return map[string]any{"eventChannel": m.sessid, "eventType": verto.EventTypeChannelPvtData, "pvtData": p}
}

// join adds an answered channel.
func (c *conference) join(ch *Channel) {
	m := &member{ch: ch, sessid: ch.varValue("event_channel_cookie"), moderator: ch.varValue("moderator") == "true"}
	if ch.inbound != nil {
		m.name, m.number = ch.inbound.Caller.CallerIDName, ch.inbound.Caller.CallerIDNumber
	}
	ch.mu.Lock()
	if ch.hungup {
		ch.mu.Unlock()
		return
	}
	ch.conf = c
	ch.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	m.id = c.nextID
	c.members = append(c.members, m)
	c.serno++
	if m.sessid != "" {
		c.deliver(m.sessid, c.pvt(m, verto.PvtActionJoin))
	}
	c.deliver(c.channel("liveArray"), map[string]any{"eventChannel": c.channel("liveArray"), "data": map[string]any{
		"action": verto.LAActionAdd, "name": c.name, "hashKey": ch.uuid, "arrIndex": len(c.members) - 1,
		"wireSerno": c.serno, "data": m.row()}})
	c.h.log.Info("testhost: conference join", "conference", c.name, "member", m.id, "call_id", ch.uuid)
}

// leave removes a channel that hung up.
func (c *conference) leave(ch *Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.ch != ch {
			continue
		}
		c.members = append(c.members[:i], c.members[i+1:]...)
		c.serno++
		c.deliver(c.channel("liveArray"), map[string]any{"eventChannel": c.channel("liveArray"), "data": map[string]any{
			"action": verto.LAActionDel, "name": c.name, "hashKey": ch.uuid, "wireSerno": c.serno, "data": m.row()}})
		if m.sessid != "" {
			c.deliver(m.sessid, c.pvt(m, verto.PvtActionPart))
		}
		return
	}
}

// Members returns the call UUIDs in the conference, in join order.
func (c *conference) Members() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.ch.uuid
	}
	return out
}

// broadcast handles a client's verto.broadcast on one of the conference's
// channels.
func (c *conference) broadcast(channel string, event json.RawMessage) {
	var ev struct {
		Sessid      string          `json:"sessid"`
		UserID      string          `json:"userid"`
		FromDisplay string          `json:"fromDisplay"`
		Data        json.RawMessage `json:"data"`
	}
	if json.Unmarshal(event, &ev) != nil {
		return
	}
	switch channel {
	case c.channel("liveArray"):
		var d struct {
			LiveArray verto.LiveArrayCommand `json:"liveArray"`
		}
		if json.Unmarshal(ev.Data, &d) != nil || d.LiveArray.Command != verto.LACommandBoot || ev.Sessid == "" {
			return // changepage, heartbeat: ignored, as mod_conference does
		}
		c.mu.Lock()
		rows := make([]any, 0, len(c.members))
		for _, m := range c.members {
			rows = append(rows, []any{m.ch.uuid, m.row()})
		}
		c.deliver(channel, map[string]any{"eventChannel": channel, "sessid": ev.Sessid, "data": map[string]any{
			"action": verto.LAActionBootObj, "name": c.name, "wireSerno": -1, "data": rows}})
		c.mu.Unlock()
	case c.channel("chat"):
		var d struct {
			Action  string `json:"action"`
			Message string `json:"message"`
			Type    string `json:"type"`
		}
		if json.Unmarshal(ev.Data, &d) != nil || d.Action != "send" {
			return
		}
		c.deliver(channel, map[string]any{"eventChannel": channel, "data": map[string]any{
			"direction": "outbound", "message": d.Message, "fromDisplay": firstNonEmpty(ev.FromDisplay, ev.UserID),
			"from": ev.UserID, "type": firstNonEmpty(d.Type, "message")}})
	case c.channel("mod"):
		var d struct {
			Application string          `json:"application"`
			Command     string          `json:"command"`
			ID          json.RawMessage `json:"id"`
		}
		if json.Unmarshal(ev.Data, &d) != nil || d.Application != "conf-control" {
			return
		}
		c.deliver(channel, map[string]any{"eventChannel": channel, "data": c.modCommand(d.Command, string(d.ID))})
	}
}

func (c *conference) modCommand(cmd, id string) map[string]any {
	var target *member
	c.mu.Lock()
	for _, m := range c.members {
		if fmt.Sprint(m.id) == id || fmt.Sprintf("%q", fmt.Sprint(m.id)) == id {
			target = m
		}
	}
	c.mu.Unlock()
	switch cmd {
	case "kick":
		if target != nil {
			target.ch.Hangup(verto.CauseNormalClearing)
		}
	case "mute", "unmute", "tmute":
		if target != nil {
			c.mu.Lock()
			target.muted = cmd == "mute" || (cmd == "tmute" && !target.muted)
			c.serno++
			c.deliver(c.channel("liveArray"), map[string]any{"eventChannel": c.channel("liveArray"), "data": map[string]any{
				"action": verto.LAActionModify, "name": c.name, "hashKey": target.ch.uuid, "wireSerno": c.serno, "data": target.row()}})
			c.mu.Unlock()
		}
	case "deaf", "undeaf", "volume_in", "volume_out", "play", "stop":
	default:
		return map[string]any{"action": "response", "error": "Invalid Command"}
	}
	if target == nil && cmd != "play" && cmd != "stop" {
		return map[string]any{"action": "response", "conf-command": cmd, "response": "Member not found"}
	}
	return map[string]any{"action": "response", "conf-command": cmd, "response": "OK"}
}
