package vertotest

import (
	"encoding/json"
	"fmt"
	"strings"

	"xccrtc/verto"
)

// conf is a conference with mod_conference's channels and liveArray.
type conf struct {
	name                string
	la, chat, mod, info string
	members             []member
	serno               int64
	nextID              int
}

type member struct {
	key string
	row []any
}

// confLocked returns conference name, made on first use. s.mu is held.
func (s *Server) confLocked(name string) *conf {
	cf := s.confs[name]
	if cf == nil {
		d := "." + name + "@" + s.cfg.Domain
		cf = &conf{name: name, la: "conference-liveArray" + d, chat: "conference-chat" + d,
			mod: "conference-mod" + d, info: "conference-info" + d}
		s.confs[name] = cf
	}
	return cf
}

func (s *Server) confByChannel(ch string) *conf {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cf := range s.confs {
		if ch == cf.la || ch == cf.chat || ch == cf.mod || ch == cf.info {
			return cf
		}
	}
	return nil
}

// join puts a call in conference name: the join pvtData to its socket,
// then an add on the liveArray.
func (s *Server) join(k *sock, c *Call, name string) {
	s.mu.Lock()
	cf := s.confLocked(name)
	cf.nextID++
	id := fmt.Sprintf("%04d", cf.nextID)
	s.mu.Unlock()
	c.mu.Lock()
	c.conf = cf
	c.mu.Unlock()
	pvt := verto.PvtData{
		CallID: c.ID, Action: verto.PvtActionJoin, LAChannel: cf.la, LAName: name, Role: "participant",
		ChatID: "conference-chat-" + name, ConferenceMemberID: verto.Flex(id), CanvasCount: 1,
		ChatChannel: cf.chat, InfoChannel: cf.info,
	}
	if s.cfg.Moderator {
		pvt.Role, pvt.ModChannel = "moderator", cf.mod
	}
	raw, _ := json.Marshal(pvt)
	k.request(verto.MethodEvent, verto.EventParams{EventChannel: k.sessid, EventType: "channelPvtData", PvtData: raw})
	user, _, _ := strings.Cut(c.Login, "@")
	s.AddMember(name, c.ID, id, user, user)
}

// leave takes a call out of its conference.
func (s *Server) leave(c *Call) {
	c.mu.Lock()
	cf := c.conf
	c.conf = nil
	c.mu.Unlock()
	if cf == nil {
		return
	}
	s.DelMember(cf.name, c.ID)
	s.mu.Lock()
	k := s.bySessid[c.Sessid]
	s.mu.Unlock()
	if k != nil {
		raw, _ := json.Marshal(verto.PvtData{CallID: c.ID, Action: verto.PvtActionPart, LAChannel: cf.la, LAName: cf.name})
		k.request(verto.MethodEvent, verto.EventParams{EventChannel: k.sessid, EventType: "channelPvtData", PvtData: raw})
	}
}

// AddMember adds a member to conference name's liveArray (key is the
// member's channel UUID) and tells the subscribers (action add).
func (s *Server) AddMember(name, key, id, number, display string) {
	s.mu.Lock()
	cf := s.confLocked(name)
	row := []any{id, number, display, "PCMU@8000", "ACTIVE", map[string]any{}, nil}
	cf.members = append(cf.members, member{key: key, row: row})
	cf.serno++
	data := map[string]any{"action": "add", "name": name, "wireSerno": cf.serno, "hashKey": key,
		"arrIndex": len(cf.members) - 1, "data": row}
	s.mu.Unlock()
	s.laSend(cf, data)
}

// DelMember removes a member (action del).
func (s *Server) DelMember(name, key string) {
	s.mu.Lock()
	cf := s.confs[name]
	if cf == nil {
		s.mu.Unlock()
		return
	}
	var row []any
	for i, m := range cf.members {
		if m.key == key {
			row = m.row
			cf.members = append(cf.members[:i], cf.members[i+1:]...)
			break
		}
	}
	cf.serno++
	data := map[string]any{"action": "del", "name": name, "wireSerno": cf.serno, "hashKey": key, "data": row}
	s.mu.Unlock()
	s.laSend(cf, data)
}

// SkipSerno makes the next liveArray message of conference name skip a
// wireSerno, as a lost event would.
func (s *Server) SkipSerno(name string) {
	s.mu.Lock()
	s.confLocked(name).serno++
	s.mu.Unlock()
}

// laSend sends a liveArray message to every socket subscribed to the
// conference's liveArray channel.
func (s *Server) laSend(cf *conf, data map[string]any) {
	s.eventTo(cf.la, data)
}

func (s *Server) eventTo(ch string, data any) {
	raw, _ := json.Marshal(data)
	s.mu.Lock()
	var to []*sock
	for k := range s.socks {
		if k.subs[ch] && k.authed {
			to = append(to, k)
		}
	}
	s.mu.Unlock()
	for _, k := range to {
		k.request(verto.MethodEvent, verto.EventParams{EventChannel: ch, Data: raw, SubscribedChannel: ch})
	}
}

func (s *Server) subscribe(k *sock, m *verto.Message) {
	var p verto.SubscribeParams
	_ = m.DecodeParams(&p)
	s.mu.Lock()
	var subscribed, already []string
	for _, ch := range p.EventChannel {
		if k.subs[ch] {
			already = append(already, ch)
			continue
		}
		k.subs[ch] = true
		subscribed = append(subscribed, ch)
	}
	s.mu.Unlock()
	k.result(m.ID, verto.SubscribeResult{SubscribedChannels: subscribed, AlreadySubscribedChannels: already, Sessid: k.sessid})
	s.notify()
}

func (s *Server) broadcast(k *sock, m *verto.Message) {
	var p verto.BroadcastParams
	_ = m.DecodeParams(&p)
	k.result(m.ID, struct {
		Sessid string `json:"sessid"`
	}{k.sessid})
	cf := s.confByChannel(p.EventChannel)
	if cf == nil {
		return
	}
	switch p.EventChannel {
	case cf.la:
		var d struct {
			LiveArray *verto.LiveArrayCommand `json:"liveArray"`
		}
		if json.Unmarshal(p.Data, &d) != nil || d.LiveArray == nil || d.LiveArray.Command != "bootstrap" {
			return
		}
		s.mu.Lock()
		rows := make([][]any, 0, len(cf.members))
		for _, mb := range cf.members {
			rows = append(rows, []any{mb.key, mb.row})
		}
		s.mu.Unlock()
		raw, _ := json.Marshal(map[string]any{"action": "bootObj", "name": cf.name, "wireSerno": -1, "data": rows})
		k.request(verto.MethodEvent, verto.EventParams{EventChannel: cf.la, Data: raw, Sessid: k.sessid})
	case cf.chat:
		var d struct {
			Action, Message, Type string
		}
		if json.Unmarshal(p.Data, &d) != nil || d.Action != "send" {
			return
		}
		if d.Type == "" {
			d.Type = "message"
		}
		s.eventTo(cf.chat, map[string]any{"direction": "outbound", "message": d.Message,
			"fromDisplay": k.login, "from": k.login, "type": d.Type})
	case cf.mod:
		var d struct {
			Command string `json:"command"`
		}
		_ = json.Unmarshal(p.Data, &d)
		s.eventTo(cf.mod, map[string]any{"action": "response", "conf-command": d.Command, "response": "OK"})
	}
}
