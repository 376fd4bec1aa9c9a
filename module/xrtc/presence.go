package xrtc

import (
	"encoding/json"
	"strings"

	"xccrtc/verto"
)

// The switch's own event channels, as mod_verto makes them:
//
//   - presence.<presence_id> (enable-presence, on by default): every
//     CHANNEL_CALLSTATE event of a channel with a presence_id becomes a
//     verto.event {eventChannel:"presence.<id>", data:{channelCallState,
//     callerIDName ...}} (presence_event_handler); subscribing a presence
//     channel makes the switch fire the current call state of the channels
//     it names (presence_ping);
//   - FSevent.<event> (enable-fs-events, off by default): every event of the
//     switch, as its JSON, on "FSevent.<name>" (custom events
//     "FSevent.custom::<subclass>"), names in lower case (event_handler).
//
// Each node turns its own switch's events into these, and sends them to
// the sockets that subscribed the channel (or its family, "presence" or
// "FSevent") here, on whatever XCtrl holds them: XCtrl fans a subscription
// to a channel nobody owns out to every node, so a socket hears the
// presence of every node's calls. Unlike mod_verto, which also puts its
// presence on the switch's event-channel bus, a node delivers these to its
// own sockets only, so that a mod_verto loaded beside it sends its clients
// no second copy.

// Event channel families of the switch's events.
const (
	PresenceFamily = "presence"
	FSEventFamily  = "FSevent"
)

// EventWants says which of the switch's events the endpoint can use now.
type EventWants struct {
	// Presence: CHANNEL_CALLSTATE events (enable-presence is on and a
	// socket subscribes a presence channel).
	Presence bool
	// FSEvents: every event (enable-fs-events is on and a socket
	// subscribes an FSevent channel).
	FSEvents bool
}

// EventFilter is an optional Host method: the endpoint tells the switch
// which events it wants whenever that changes (start, reload, a
// subscription), so that a switch spends nothing on events nobody reads
// (FreeSWITCH: no JSON serialisation, no call into Go).
type EventFilter interface {
	WantEvents(EventWants)
}

// PresenceProber is an optional Host method: the switch fires the current
// call state of the channels whose presence_id a new presence
// subscription names (mod_verto's presence_ping): "presence.<id>" for one
// id, "presence" for every channel with a presence_id. The events come back
// through SwitchEvent.
type PresenceProber interface {
	ProbePresence(channel string)
}

// SwitchEvent is an event of the switch for the presence and FSevent
// channels: its name (CHANNEL_CALLSTATE, CUSTOM ...), its subclass (custom
// events), and its headers as the switch serialises an event to JSON
// (FreeSWITCH: switch_event_serialize_json_obj; the body is "_body"). It
// does what the configuration in force asks (enable-presence,
// enable-fs-events) and never blocks on the network.
func (e *Endpoint) SwitchEvent(name, subclass string, event json.RawMessage) {
	e.safely("SwitchEvent", func() {
		cfg := e.config()
		presence := cfg.Settings.EnablePresence && strings.EqualFold(name, "CHANNEL_CALLSTATE")
		if !presence && !cfg.Settings.EnableFSEvents {
			return
		}
		if presence {
			obj, err := verto.ParseObject(event)
			if err != nil {
				e.log.Warn("xrtc: switch event that is not a JSON object", "event", name, "err", err)
				return
			}
			e.presenceEvent(obj)
		}
		if !cfg.Settings.EnableFSEvents {
			return
		}
		ch := FSEventFamily + "." + strings.ToLower(name)
		if strings.EqualFold(name, "CUSTOM") {
			ch += "::" + strings.ToLower(subclass)
		}
		if !e.ev.hasSubscribers(ch) || !json.Valid(event) {
			return
		}
		msg := &verto.Object{}
		msg.Set("eventChannel", ch)
		msg.SetRaw("data", event)
		e.deliverObj(ch, msg)
	})
}

// presenceFields are mod_verto's presence data: its name -> the event
// header it comes from.
var presenceFields = [][2]string{
	{"channelCallState", "channel-call-state"},
	{"originalChannelCallState", "original-channel-call-state"},
	{"channelState", "channel-state"},
	{"callerUserName", "caller-username"},
	{"callerIDName", "caller-caller-id-name"},
	{"callerIDNumber", "caller-caller-id-number"},
	{"calleeIDName", "caller-callee-id-name"},
	{"calleeIDNumber", "caller-callee-id-number"},
	{"channelUUID", "unique-id"},
	{"presenceCallDirection", "presence-call-direction"},
	{"channelPresenceID", "channel-presence-id"},
	{"channelPresenceData", "channel-presence-data"},
}

// presenceEvent is mod_verto's presence_event_handler: a CHANNEL_CALLSTATE
// of a channel with a presence_id becomes a verto.event on
// presence.<presence_id>, with PD-* headers copied as they are.
func (e *Endpoint) presenceEvent(ev *verto.Object) {
	headers := make(map[string]string, ev.Len())
	var pd []string
	for _, k := range ev.Keys() {
		var v string
		if !ev.Get(k, &v) {
			continue // an array header: mod_verto reads the first value only through PD-
		}
		lk := strings.ToLower(k)
		if _, dup := headers[lk]; !dup {
			headers[lk] = v
		}
		if strings.HasPrefix(lk, "pd-") {
			pd = append(pd, k)
		}
	}
	id := headers["channel-presence-id"]
	if id == "" {
		return
	}
	ch := PresenceFamily + "." + id
	if !e.ev.hasSubscribers(ch) {
		return // nobody here listens: nothing to build
	}
	data := &verto.Object{}
	for _, f := range presenceFields {
		if v, ok := headers[f[1]]; ok {
			data.Set(f[0], v)
		}
	}
	for _, k := range pd {
		data.Set(k, headers[strings.ToLower(k)])
	}
	msg := &verto.Object{}
	msg.Set("eventChannel", ch)
	msg.Set("data", data)
	e.deliverObj(ch, msg)
}

// hasSubscribers reports whether a socket subscribes ch or its family.
func (ev *events) hasSubscribers(ch string) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.chans[ch]) > 0 {
		return true
	}
	family, _, _ := strings.Cut(ch, ".")
	return len(ev.chans[family]) > 0
}

// countLocked keeps the number of subscriptions of the presence and FSevent
// families (ev.mu held).
func (ev *events) countLocked(ch string, n int) {
	family, _, _ := strings.Cut(ch, ".")
	switch {
	case strings.EqualFold(family, PresenceFamily):
		ev.presenceSubs += n
	case strings.EqualFold(family, FSEventFamily):
		ev.fsSubs += n
	}
}

// switchChannelAllowedLocked is mod_verto's extra rule for the switch's
// own channels (event_channel_check_auth): a user whose directory lists the
// event channels it may use gets no FSevent channel while enable-fs-events
// is off. A user without such a list may subscribe (and hears nothing).
func (e *Endpoint) switchChannelAllowedLocked(s *socket, ch string) bool {
	family, _, _ := strings.Cut(ch, ".")
	if !strings.EqualFold(family, FSEventFamily) || e.config().Settings.EnableFSEvents {
		return true
	}
	return s.perms == nil || s.perms.AllowedEventChannels == nil
}

// subscribed runs after a socket subscribed channels: the switch is told
// what the endpoint now wants, and fires the call state of the channels a
// new presence subscription names (mod_verto's presence_ping).
func (e *Endpoint) subscribed(chans []string) {
	e.updateEventWants()
	pp, ok := e.host.(PresenceProber)
	if !ok || !e.config().Settings.EnablePresence {
		return
	}
	for _, ch := range chans {
		if len(ch) >= len(PresenceFamily) && strings.EqualFold(ch[:len(PresenceFamily)], PresenceFamily) {
			pp.ProbePresence(ch)
		}
	}
}

// updateEventWants tells the host (EventFilter) what the endpoint wants
// now, when that changed. Updates are serialised (ev.wantsMu), so the host
// always ends with the latest; WantEvents must not call back into the
// endpoint.
func (e *Endpoint) updateEventWants() {
	f, ok := e.host.(EventFilter)
	if !ok {
		return
	}
	e.ev.wantsMu.Lock()
	defer e.ev.wantsMu.Unlock()
	cfg := e.config()
	e.ev.mu.Lock()
	w := EventWants{
		Presence: cfg.Settings.EnablePresence && e.ev.presenceSubs > 0,
		FSEvents: cfg.Settings.EnableFSEvents && e.ev.fsSubs > 0,
	}
	e.ev.mu.Unlock()
	if w != e.ev.wants {
		e.ev.wants = w
		f.WantEvents(w)
	}
}
