package client

import (
	"encoding/json"
	"time"
)

// EventKind names what happened.
type EventKind string

// Client and call events, delivered to Options.OnEvent.
const (
	EventLoggedIn     EventKind = "logged-in"     // login accepted
	EventReady        EventKind = "client-ready"  // verto.clientReady
	EventPing         EventKind = "ping"          // server verto.ping
	EventPunt         EventKind = "punt"          // verto.punt: logged in elsewhere
	EventSocketClosed EventKind = "socket-closed" // the WebSocket closed unexpectedly
	EventReloading    EventKind = "reloading"     // Reload dropped the socket
	EventReloaded     EventKind = "reloaded"      // Reload logged in again
	EventReconnecting EventKind = "reconnecting"  // an attempt to reconnect after the socket was lost
	EventReconnected  EventKind = "reconnected"   // logged in again after the socket was lost
	EventInvite       EventKind = "invite"        // an incoming call rings
	EventTrying       EventKind = "trying"        // verto.trying (node chosen)
	EventEarly        EventKind = "early"         // verto.media (early media)
	EventAnswered     EventKind = "answered"      // the call is up
	EventMediaUp      EventKind = "media-up"      // ICE and DTLS connected
	EventVideoUp      EventKind = "video-up"      // the video leg's ICE and DTLS connected
	EventMediaFailed  EventKind = "media-failed"  // ICE or DTLS failed
	EventAttached     EventKind = "attached"      // verto.attach answered after a reload
	EventHold         EventKind = "hold"          // verto.modify result: held or active
	EventDTMF         EventKind = "dtmf"          // DTMF sent
	EventDisplay      EventKind = "display"       // verto.display
	EventInfo         EventKind = "info"          // verto.info from the server (chat, text)
	EventHangup       EventKind = "hangup"        // the call ended
	EventConference   EventKind = "conference"    // joined or left a conference
	EventMembers      EventKind = "members"       // the member list changed
	EventChat         EventKind = "chat"          // a conference chat message
	EventVerto        EventKind = "verto-event"   // any other verto.event
)

// Event is one thing that happened to a client or a call.
type Event struct {
	Time   time.Time
	Kind   EventKind
	CallID string          // empty for client events
	Text   string          // a short human description
	Params json.RawMessage // the server message's params, when one caused it
}

func (c *Client) emit(kind EventKind, callID, text string, params json.RawMessage) {
	c.log.Info("event", "kind", string(kind), "call_id", callID, "text", text)
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(Event{Time: time.Now(), Kind: kind, CallID: callID, Text: text, Params: params})
	}
}
