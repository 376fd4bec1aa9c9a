package xrtc

import (
	"context"
	"encoding/json"
	"errors"

	"xccrtc/verto"
)

// Host is what the endpoint needs from a switch. FreeSWITCH (the cgo binding
// in module/freeswitch) and the Go test host (module/testhost) implement it;
// nothing else in the endpoint knows which one it has.
//
// The other direction, the switch telling the endpoint what happened to a
// channel, goes through the Endpoint's entry points (ChannelProgress,
// ChannelAnswer, ChannelHangup, ChannelDisplay, DeliverEvent, Originate, API),
// which never block on the network and may be called from any goroutine or
// FreeSWITCH thread.
//
// Host methods are called from the endpoint's own goroutines, never while it
// holds a lock, so a host may call back into the endpoint from inside them.
//
// A host may also implement UserLookup (userlookup.go): the endpoint then
// looks users up in the switch's directory for XCtrl (xrtc.lookupUser).
type Host interface {
	// NewInboundCall creates the channel of a call a client places
	// (verto.invite): UUID is the client's callID, the caller profile and
	// variables are set as mod_verto sets them, and the client's SDP offer is
	// checked and kept for negotiation. The host then routes the channel
	// through spec.Caller.Context / Dialplan on its own, and reports early
	// media, answer and hang-up through ChannelProgress, ChannelAnswer and
	// ChannelHangup (FreeSWITCH: switch_core_session_request_uuid, caller
	// profile, CS_INIT, session thread launch).
	//
	// Errors: ErrBadSDP (the offer does not parse), ErrCodec (nothing in it
	// the profile accepts); anything else means the channel could not be made.
	NewInboundCall(spec InboundSpec) (Channel, error)

	// NewOutboundCall creates the channel of a call to a WebRTC user (the
	// FreeSWITCH binding does this inside the endpoint's outgoing_channel).
	// The endpoint then asks the channel for an Offer, rings the user over
	// NATS and completes it with SetRemoteAnswer and MarkAnswered, or hangs
	// it up.
	NewOutboundCall(spec OutboundSpec) (Channel, error)

	// Broadcast puts a client's verto.broadcast (already stamped with
	// userid, fromDisplay and sessid) on the switch's event-channel bus, where
	// e.g. mod_conference's liveArray, chat and moderator handlers take it.
	// Whatever the switch publishes in return comes back through
	// Endpoint.DeliverEvent. (FreeSWITCH: switch_event_channel_broadcast.)
	Broadcast(channel string, event json.RawMessage) error

	// SendChat delivers a chat message (verto.info msg): a MESSAGE event with
	// proto ChatProto in FreeSWITCH, run through the chat plan.
	SendChat(msg Chat) error

	// Status reports the switch's identity and load for node status messages
	// and `xrtc status`.
	Status() HostStatus
}

// Channel is one call's channel in the switch. Its media (SDP, ICE,
// DTLS-SRTP, codecs) belongs to the switch. Every method may be called after
// the channel hung up; it then does nothing and returns ErrChannelGone.
type Channel interface {
	// UUID is the channel UUID (the Verto callID).
	UUID() string

	// Offer makes a local SDP offer with every ICE candidate gathered (no
	// trickle): for a call to a user, and again, with fresh ICE and DTLS,
	// to re-attach a detached call (FreeSWITCH:
	// switch_core_media_gen_local_sdp(SDP_TYPE_REQUEST)).
	Offer(ctx context.Context) (string, error)
	// SetRemoteAnswer negotiates the client's answer to the last Offer and
	// starts media. ErrBadSDP / ErrCodec as in NewInboundCall.
	SetRemoteAnswer(sdp string) error
	// Renegotiate answers a new offer from the client on an answered call
	// (verto.modify updateMedia) and returns the local answer.
	Renegotiate(offer string) (string, error)
	// MarkRinging marks a call to a user as ringing (ring_ready).
	MarkRinging() error
	// MarkAnswered marks a call to a user answered, after SetRemoteAnswer.
	MarkAnswered() error
	// Detach stops media while the client's socket is gone; a later Offer
	// and SetRemoteAnswer restart it.
	Detach() error

	// Hangup ends the channel with the cause. The host reports the hang-up
	// back through Endpoint.ChannelHangup as for any other hang-up; the
	// endpoint ignores that echo.
	Hangup(cause verto.Cause)
	// QueueDTMF queues digits received from the client (verto.info dtmf) to
	// the channel, as if the remote party pressed them.
	QueueDTMF(digits string) error
	// Hold puts the call on hold (true) or takes it off (false); the
	// switch's resulting state is MediaStats().Held.
	Hold(on bool) error
	// Transfer sends the channel's bridged partner to destination in the
	// dialplan and context ("" = the channel's own). ErrNotBridged when
	// there is no partner.
	Transfer(destination, dialplan, context string) error
	// Replace is an attended transfer with any session the switch knows
	// (otherUUID, not only an xrtc call): this call's partner and the other
	// session's partner are connected (mod_verto's attended_transfer).
	// ErrChannelGone: no such session; ErrNotBridged: neither is bridged.
	Replace(otherUUID string) error
	// Partner is the UUID of the session bridged to this channel (its
	// bridge partner, or the leg it is bonded to while it rings), "" when
	// there is none or the channel is gone.
	Partner() string
	// RefreshVideo asks for a key frame (verto.modify videoRefresh).
	RefreshVideo() error
	// QueueCommand queues a client command (verto.info command) to the
	// session as a COMMAND event.
	QueueCommand(cmd json.RawMessage) error
	// SendText delivers real-time text (verto.info txt).
	SendText(txt json.RawMessage) error
	// SetVariables sets channel variables.
	SetVariables(vars map[string]string)

	// MediaStats returns the channel's media counters. RTPPacketsIn counts
	// inbound RTP media packets only: STUN, DTLS and RTCP are not media.
	// (FreeSWITCH: the per-session RTP statistics, inbound.media_packet_count.)
	MediaStats() MediaStats
}

// Errors a Host or Channel returns. The endpoint maps them to Verto errors and
// hang-up causes.
var (
	// ErrBadSDP means an SDP does not parse.
	ErrBadSDP = errors.New("xrtc: SDP does not parse")
	// ErrCodec means an SDP has nothing in common with what the profile accepts.
	ErrCodec = errors.New("xrtc: codec negotiation failed")
	// ErrChannelGone means the channel hung up.
	ErrChannelGone = errors.New("xrtc: channel gone")
	// ErrNotBridged means a transfer needs a bridged partner and there is none.
	ErrNotBridged = errors.New("xrtc: call is not bridged")
	// ErrNotSupported means the host cannot do what was asked.
	ErrNotSupported = errors.New("xrtc: not supported by this host")
)

// CallerProfile is the caller profile of a channel, as FreeSWITCH keeps it.
type CallerProfile struct {
	Username          string `json:"username,omitempty"`
	CallerIDName      string `json:"caller_id_name,omitempty"`
	CallerIDNumber    string `json:"caller_id_number,omitempty"`
	CalleeIDName      string `json:"callee_id_name,omitempty"`
	CalleeIDNumber    string `json:"callee_id_number,omitempty"`
	DestinationNumber string `json:"destination_number"`
	Context           string `json:"context"`
	Dialplan          string `json:"dialplan"`
	ANI               string `json:"ani,omitempty"`
	ANIII             string `json:"aniii,omitempty"`
	RDNIS             string `json:"rdnis,omitempty"`
	NetworkAddr       string `json:"network_addr,omitempty"` // the client's IP (mod_verto: the WebSocket peer)
	Source            string `json:"source"`                 // "mod_xrtc"
}

// InboundSpec is what the switch needs to create a client's call.
type InboundSpec struct {
	UUID      string            // the client's callID: the channel UUID
	Name      string            // channel name, "xrtc/<destination>"
	Profile   *Profile          // media settings: codecs, rtp-ip, candidate ACLs ...
	RemoteSDP string            // the client's offer, ICE complete
	Caller    CallerProfile     // routing: destination, context, dialplan
	Vars      map[string]string // channel variables, set before routing
}

// OutboundSpec is what the switch needs to create a call to a user.
type OutboundSpec struct {
	UUID    string            // channel UUID (origination_uuid, or a new one)
	Name    string            // channel name, "xrtc/<user@domain>"
	Profile *Profile          // media settings
	Route   *verto.Route      // where the invite goes and for whom
	Caller  CallerProfile     // caller id of the originator; destination = user
	Vars    map[string]string // channel variables
}

// MediaStats are a channel's media counters.
type MediaStats struct {
	RTPPacketsIn  uint64 // inbound RTP media packets (not STUN, DTLS, RTCP)
	RTPBytesIn    uint64
	RTPPacketsOut uint64
	// Bypass: the media does not pass through the switch (FreeSWITCH
	// bypass_media, proxy mode: the two endpoints exchange it directly).
	// There is nothing to count, and the media watch stays off.
	Bypass bool
	// Held: the call is on hold in the switch (FreeSWITCH CF_PROTO_HOLD):
	// the truth verto.modify's holdState and the media watch read (hold.go).
	Held bool
}

// HostStatus is the switch's identity and load.
type HostStatus struct {
	CoreUUID             string // default node_uuid
	Hostname             string
	Version              string
	IP                   string
	DefaultDomain        string // the switch's "domain" variable
	Sessions             int
	SessionsMax          int
	SessionsSinceStartup int64
	SessionPeakMax       int
	SPSLast              int
	SPSMax               int
}

// Chat is a chat message from a client (verto.info msg).
type Chat struct {
	From     string // the sender's login (asserted by XCtrl)
	To       string
	Body     string
	CallID   string // set when inDialog
	Sessid   string
	Profile  string
	InDialog bool
	// Context is the sender's dialplan context (the chat plan's context):
	// user_context, else verto-context, else the profile's.
	Context string
	// Headers are the msg's from_* and to_* fields, headers of the MESSAGE
	// event as in mod_verto.
	Headers map[string]string
}

// OfferOnInit is an optional Host interface, for a switch that is still
// setting an outbound channel up when NewOutboundCall returns (FreeSWITCH:
// after the endpoint's outgoing_channel the core sets originator_codec,
// bypass/proxy mode and the originate's variables on the new session, and
// only then starts it). A host whose OfferOnInit returns true calls
// Endpoint.ChannelInit from the channel's own thread when it starts
// (FreeSWITCH: on_init), and the endpoint makes the call's offer there, as
// mod_verto does in verto_on_init. Other hosts get the Offer right after
// NewOutboundCall, from the call's queue.
type OfferOnInit interface {
	OfferOnInit() bool
}

// Starter is an optional Channel method: a host whose inbound channels wait
// for Start before they run the dialplan implements it. The endpoint calls
// Start right after it has answered the client's verto.invite, so nothing
// the dialplan does (answer, early media, a conference's events) can reach
// the client before "CALL CREATED". A host without it starts routing in
// NewInboundCall; indications that come while the invite is still being
// answered then wait behind it.
type Starter interface {
	Start()
}
