package verto

// Additions made for the xrtc endpoint module (module/xrtc). Additions only:
// nothing here changes a type declared elsewhere in the package.

// EventPermissions are optional fields XCtrl may put into params.xrtc_user
// beside User's: the directory's jsonrpc-allowed-event-channels of the
// logged-in user. Absent (nil) means any channel may be subscribed (a user
// without directory data, or __ANY__); present, the node allows a channel
// listed by name or by its first dot-separated component, or granted to the
// socket by the switch (conference join, PROTOCOL.md 5.2). XCtrl sends []
// when the directory leaves it unset: mod_verto then allows none.
type EventPermissions struct {
	AllowedEventChannels []string `json:"allowed_event_channels,omitempty"`
}

// Allows reports whether channel may be subscribed or broadcast to under
// the allow-list (a nil list allows everything).
func (p *EventPermissions) Allows(channel string) bool {
	if p == nil || p.AllowedEventChannels == nil {
		return true
	}
	main := channel
	for i := 0; i < len(channel); i++ {
		if channel[i] == '.' {
			main = channel[:i]
			break
		}
	}
	for _, a := range p.AllowedEventChannels {
		if a == channel || a == main {
			return true
		}
	}
	return false
}

// Event types of verto.event params (eventType).
const (
	EventTypeChannelPvtData = "channelPvtData"
)

// LiveArray actions (data.action of a liveArray verto.event, PROTOCOL.md 5.4).
const (
	LAActionBootObj = "bootObj"
	LAActionAdd     = "add"
	LAActionModify  = "modify"
	LAActionDel     = "del"
	LAActionClear   = "clear"
	LACommandBoot   = "bootstrap"
)
