package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"xccrtc/verto"
)

// Conference is a conference a call joined: the server told this client
// its channels (verto.event pvtData conference-liveArray-join); the client
// subscribed to them and bootstrapped the liveArray, and keeps the member
// list current (PROTOCOL.md 5).
type Conference struct {
	c *Client

	mu          sync.Mutex
	info        ConferenceInfo
	members     []Member
	booted      bool
	left        bool
	lastSerno   int64
	sernoErrors int
	changed     notifier

	updates chan []Member
	chat    chan ChatMessage
	mod     chan json.RawMessage
}

// ConferenceInfo is what the join event said.
type ConferenceInfo struct {
	Name        string `json:"name"`
	CallID      string `json:"call_id"`
	MemberID    string `json:"member_id"`
	Role        string `json:"role,omitempty"`
	LAChannel   string `json:"la_channel"`
	ChatChannel string `json:"chat_channel,omitempty"`
	ModChannel  string `json:"mod_channel,omitempty"`
	InfoChannel string `json:"info_channel,omitempty"`
}

// Member is one row of the conference liveArray (mod_conference's format:
// member id, caller id number and name, codec, status, variables).
type Member struct {
	Key     string `json:"key"` // hashKey: the member's channel UUID
	ID      string `json:"id"`
	Number  string `json:"number"`
	Name    string `json:"name"`
	Codec   string `json:"codec,omitempty"`
	Status  string `json:"status,omitempty"` // as sent: flags, or a JSON string
	Talking bool   `json:"talking,omitempty"`
	Muted   bool   `json:"muted,omitempty"`
	Deaf    bool   `json:"deaf,omitempty"`
	Held    bool   `json:"held,omitempty"`
}

// ChatMessage is a conference chat message as the server re-broadcasts it.
type ChatMessage struct {
	From        string    `json:"from"`
	FromDisplay string    `json:"fromDisplay,omitempty"`
	Message     string    `json:"message"`
	Type        string    `json:"type,omitempty"`
	Time        time.Time `json:"time"`
}

// liveArray actions (PROTOCOL.md 5.4).
const (
	laBootObj = "bootObj"
	laAdd     = "add"
	laModify  = "modify"
	laDel     = "del"
	laClear   = "clear"
)

// maxRebootstraps is how often a wireSerno gap makes the client bootstrap
// again, as verto.js limits it.
const maxRebootstraps = 3

// Conferences returns the conferences this client's calls are in.
func (c *Client) Conferences() []*Conference {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Conference, 0, len(c.confs))
	for _, cf := range c.confs {
		out = append(out, cf)
	}
	return out
}

// Info returns the conference's name and channels.
func (cf *Conference) Info() ConferenceInfo {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.info
}

// Members returns the current member list.
func (cf *Conference) Members() []Member {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return append([]Member(nil), cf.members...)
}

// Updates delivers the member list after every change. A slow reader misses
// intermediate lists (Members is always current); it is never closed.
func (cf *Conference) Updates() <-chan []Member { return cf.updates }

// Chat delivers chat messages; like Updates, it drops when the reader lags.
func (cf *Conference) Chat() <-chan ChatMessage { return cf.chat }

// ModResponses delivers the data of replies on the moderator channel.
func (cf *Conference) ModResponses() <-chan json.RawMessage { return cf.mod }

// Left reports whether the server said the call left the conference.
func (cf *Conference) Left() bool {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.left
}

// WaitMembers waits until cond holds for the member list (checked at every
// change) and returns that list.
func (cf *Conference) WaitMembers(ctx context.Context, cond func([]Member) bool) ([]Member, error) {
	for {
		cf.mu.Lock()
		ms := append([]Member(nil), cf.members...)
		ok := cf.booted && cond(ms)
		ch := cf.changed.wait()
		cf.mu.Unlock()
		if ok {
			return ms, nil
		}
		select {
		case <-ch:
		case <-cf.c.done:
			return ms, ErrClosed
		case <-ctx.Done():
			return ms, ctx.Err()
		}
	}
}

// Bootstrap asks for the whole liveArray again.
func (cf *Conference) Bootstrap(ctx context.Context) error {
	info := cf.Info()
	return cf.c.Broadcast(ctx, info.LAChannel, map[string]any{
		"liveArray": verto.LiveArrayCommand{
			Command: "bootstrap", Context: info.LAChannel, Name: info.Name, Obj: json.RawMessage("null"),
		},
	})
}

// SendChat sends a chat message to the conference.
func (cf *Conference) SendChat(ctx context.Context, text string) error {
	info := cf.Info()
	if info.ChatChannel == "" {
		return fmt.Errorf("client: conference %s has no chat channel", info.Name)
	}
	return cf.c.Broadcast(ctx, info.ChatChannel, map[string]any{"action": "send", "message": text, "type": "message"})
}

// Moderate sends a moderator command (kick, mute, unmute, deaf, ...) about
// memberID; value is optional. Only moderators are told a mod channel.
func (cf *Conference) Moderate(ctx context.Context, command, memberID string, value any) error {
	info := cf.Info()
	if info.ModChannel == "" {
		return fmt.Errorf("client: not a moderator of conference %s", info.Name)
	}
	data := map[string]any{"application": "conf-control", "command": command, "id": memberID}
	if value != nil {
		data["value"] = value
	}
	return cf.c.Broadcast(ctx, info.ModChannel, data)
}

// start subscribes to the conference channels and bootstraps.
func (cf *Conference) start() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*cf.c.opts.RequestTimeout)
	defer cancel()
	info := cf.Info()
	for _, ch := range []string{info.LAChannel, info.ChatChannel, info.InfoChannel, info.ModChannel} {
		if ch == "" {
			continue
		}
		if _, err := cf.c.Subscribe(ctx, ch); err != nil {
			cf.c.log.Warn("conference: subscribe failed", "channel", ch, "err", err)
		}
	}
	if err := cf.Bootstrap(ctx); err != nil {
		cf.c.log.Warn("conference: bootstrap failed", "err", err)
	}
}

// handleEvent takes a verto.event: conference join and part (pvtData),
// liveArray, chat, moderator and info channels; anything else goes to
// OnEvent.
func (c *Client) handleEvent(m *verto.Message) {
	var p verto.EventParams
	if err := m.DecodeParams(&p); err != nil {
		c.log.Warn("verto.event: bad params", "err", err)
		return
	}
	if len(p.PvtData) > 0 && string(p.PvtData) != "null" {
		var pvt verto.PvtData
		if err := json.Unmarshal(p.PvtData, &pvt); err == nil {
			switch pvt.Action {
			case verto.PvtActionJoin:
				c.joinConference(&pvt, m.Params)
				return
			case verto.PvtActionPart:
				c.partConference(&pvt, m.Params)
				return
			}
		}
	}
	c.mu.Lock()
	var cf *Conference
	for _, x := range c.confs {
		if x.owns(p.EventChannel) || x.owns(p.SubscribedChannel) {
			cf = x
			break
		}
	}
	c.mu.Unlock()
	if cf == nil {
		c.emit(EventVerto, "", p.EventChannel, m.Params)
		return
	}
	cf.handle(&p, m.Params)
}

func (cf *Conference) owns(ch string) bool {
	if ch == "" {
		return false
	}
	cf.mu.Lock()
	defer cf.mu.Unlock()
	i := cf.info
	return ch == i.LAChannel || ch == i.ChatChannel || ch == i.ModChannel || ch == i.InfoChannel
}

func (c *Client) joinConference(pvt *verto.PvtData, raw json.RawMessage) {
	info := ConferenceInfo{
		Name: pvt.LAName, CallID: pvt.CallID, MemberID: string(pvt.ConferenceMemberID), Role: pvt.Role,
		LAChannel: pvt.LAChannel, ChatChannel: pvt.ChatChannel, ModChannel: pvt.ModChannel, InfoChannel: pvt.InfoChannel,
	}
	c.mu.Lock()
	cf := c.confs[pvt.LAChannel]
	if cf == nil {
		cf = &Conference{
			c: c, lastSerno: -1,
			updates: make(chan []Member, 32),
			chat:    make(chan ChatMessage, 64),
			mod:     make(chan json.RawMessage, 32),
		}
		c.confs[pvt.LAChannel] = cf
	}
	call := c.calls[pvt.CallID]
	c.mu.Unlock()
	cf.mu.Lock()
	cf.info = info
	cf.left = false
	cf.lastSerno, cf.sernoErrors = -1, 0
	cf.mu.Unlock()
	if call != nil {
		call.mu.Lock()
		call.conf = cf
		call.changed.notify()
		call.mu.Unlock()
	}
	c.emit(EventConference, pvt.CallID, "joined "+pvt.LAName+" as member "+info.MemberID, raw)
	c.goBG(cf.start)
}

func (c *Client) partConference(pvt *verto.PvtData, raw json.RawMessage) {
	c.mu.Lock()
	cf := c.confs[pvt.LAChannel]
	delete(c.confs, pvt.LAChannel)
	c.mu.Unlock()
	if cf != nil {
		cf.mu.Lock()
		cf.left = true
		cf.changed.notify()
		cf.mu.Unlock()
	}
	c.emit(EventConference, pvt.CallID, "left "+pvt.LAName, raw)
}

// laData is the data of a liveArray verto.event.
type laData struct {
	Action    string          `json:"action"`
	Name      string          `json:"name"`
	WireSerno *int64          `json:"wireSerno"`
	HashKey   string          `json:"hashKey"`
	ArrIndex  *int            `json:"arrIndex"`
	Data      json.RawMessage `json:"data"`
}

func (cf *Conference) handle(p *verto.EventParams, raw json.RawMessage) {
	info := cf.Info()
	ch := p.EventChannel
	if !cf.owns(ch) {
		ch = p.SubscribedChannel
	}
	switch ch {
	case info.LAChannel:
		var d laData
		if err := json.Unmarshal(p.Data, &d); err != nil {
			cf.c.log.Warn("liveArray: bad data", "err", err)
			return
		}
		cf.handleLA(&d)
	case info.ChatChannel:
		var d struct {
			Direction   string `json:"direction"`
			Message     string `json:"message"`
			FromDisplay string `json:"fromDisplay"`
			From        string `json:"from"`
			Type        string `json:"type"`
		}
		if json.Unmarshal(p.Data, &d) != nil || d.Message == "" {
			return
		}
		msg := ChatMessage{From: d.From, FromDisplay: d.FromDisplay, Message: d.Message, Type: d.Type, Time: time.Now()}
		select {
		case cf.chat <- msg:
		default:
		}
		cf.c.emit(EventChat, info.CallID, firstOf(d.FromDisplay, d.From)+": "+d.Message, raw)
	case info.ModChannel:
		select {
		case cf.mod <- p.Data:
		default:
		}
		cf.c.emit(EventVerto, info.CallID, "moderator: "+string(p.Data), raw)
	default:
		cf.c.emit(EventVerto, info.CallID, ch, raw)
	}
}

func (cf *Conference) handleLA(d *laData) {
	cf.mu.Lock()
	rebootstrap := false
	if d.WireSerno != nil && *d.WireSerno != -1 {
		if cf.lastSerno >= 0 && *d.WireSerno != cf.lastSerno+1 {
			cf.sernoErrors++
			rebootstrap = cf.sernoErrors <= maxRebootstraps
			cf.c.log.Warn("liveArray: wireSerno gap", "got", *d.WireSerno, "want", cf.lastSerno+1)
		}
		cf.lastSerno = *d.WireSerno
	}
	switch d.Action {
	case laBootObj:
		var rows [][]json.RawMessage
		_ = json.Unmarshal(d.Data, &rows)
		cf.members = cf.members[:0]
		for _, kv := range rows {
			if len(kv) < 2 {
				continue
			}
			var key string
			_ = json.Unmarshal(kv[0], &key)
			cf.members = append(cf.members, parseMember(key, kv[1]))
		}
		cf.booted = true
	case laAdd, laModify:
		m := parseMember(d.HashKey, d.Data)
		if i := cf.index(d.HashKey); i >= 0 {
			cf.members[i] = m
		} else if d.ArrIndex != nil && *d.ArrIndex >= 0 && *d.ArrIndex < len(cf.members) {
			cf.members = append(cf.members[:*d.ArrIndex], append([]Member{m}, cf.members[*d.ArrIndex:]...)...)
		} else {
			cf.members = append(cf.members, m)
		}
	case laDel:
		if i := cf.index(d.HashKey); i >= 0 {
			cf.members = append(cf.members[:i], cf.members[i+1:]...)
		}
	case laClear:
		cf.members = nil
	default:
		cf.mu.Unlock()
		return
	}
	ms := append([]Member(nil), cf.members...)
	callID := cf.info.CallID
	cf.changed.notify()
	cf.mu.Unlock()
	select {
	case cf.updates <- ms:
	default:
	}
	cf.c.emit(EventMembers, callID, fmt.Sprintf("%s: %d members", d.Action, len(ms)), nil)
	if rebootstrap {
		cf.c.goBG(func() {
			ctx, cancel := context.WithTimeout(context.Background(), cf.c.opts.RequestTimeout)
			defer cancel()
			_ = cf.Bootstrap(ctx)
		})
	}
}

func (cf *Conference) index(key string) int {
	for i, m := range cf.members {
		if m.Key == key {
			return i
		}
	}
	return -1
}

// parseMember reads a mod_conference row: [id, number, name, codec,
// status, vars...].
func parseMember(key string, raw json.RawMessage) Member {
	m := Member{Key: key}
	var row []json.RawMessage
	if json.Unmarshal(raw, &row) != nil {
		return m
	}
	str := func(i int) string {
		if i >= len(row) {
			return ""
		}
		var s string
		if json.Unmarshal(row[i], &s) == nil {
			return s
		}
		return strings.Trim(string(row[i]), `"`)
	}
	m.ID, m.Number, m.Name, m.Codec, m.Status = str(0), str(1), str(2), str(3), str(4)
	if strings.HasPrefix(strings.TrimSpace(m.Status), "{") {
		var st struct {
			Audio struct {
				Muted   bool `json:"muted"`
				Deaf    bool `json:"deaf"`
				OnHold  bool `json:"onHold"`
				Talking bool `json:"talking"`
			} `json:"audio"`
		}
		if json.Unmarshal([]byte(m.Status), &st) == nil {
			m.Muted, m.Deaf, m.Held, m.Talking = st.Audio.Muted, st.Audio.Deaf, st.Audio.OnHold, st.Audio.Talking
		}
	} else {
		s := strings.ToUpper(m.Status)
		m.Talking = strings.Contains(s, "TALKING")
		m.Muted = strings.Contains(s, "MUTE")
		m.Deaf = strings.Contains(s, "DEAF")
		m.Held = strings.Contains(s, "HOLD")
	}
	return m
}
