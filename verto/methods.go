package verto

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Verto methods. Client->server and server->client share names where the
// protocol does (verto.invite, verto.answer, verto.bye, verto.attach,
// verto.info).
const (
	MethodLogin       = "login"
	MethodEcho        = "echo"
	MethodJSAPI       = "jsapi"
	MethodFSAPI       = "fsapi"
	MethodInvite      = "verto.invite"
	MethodAnswer      = "verto.answer"
	MethodMedia       = "verto.media"
	MethodBye         = "verto.bye"
	MethodAttach      = "verto.attach"
	MethodModify      = "verto.modify"
	MethodInfo        = "verto.info"
	MethodSubscribe   = "verto.subscribe"
	MethodUnsubscribe = "verto.unsubscribe"
	MethodBroadcast   = "verto.broadcast"
	MethodEvent       = "verto.event"
	MethodClientReady = "verto.clientReady"
	MethodPunt        = "verto.punt"
	MethodPing        = "verto.ping"
	MethodDisplay     = "verto.display"
	MethodTrying      = "verto.trying"
	MethodPrompt      = "verto.prompt"
	MethodMediaParams = "verto.mediaParams"
)

// XCC control notifications between XCtrl and nodes (PROTOCOL.md 4.2).
const (
	MethodXrtcLogin    = "xrtc.login"    // ctrl->node request: a sessid logged in; re-attach its calls
	MethodXrtcDetach   = "xrtc.detach"   // ctrl->node notification: a socket closed; detach its calls
	MethodXrtcAnswered = "xrtc.answered" // node->ctrl notification: a ringing call was answered elsewhere
	MethodXrtcPunt     = "xrtc.punt"     // ctrl->ctrl notification: the sessid logged in elsewhere; punt it
)

// ClientMethods are the methods a client may send to the server.
var ClientMethods = []string{
	MethodLogin, MethodEcho, MethodJSAPI, MethodFSAPI, MethodInvite, MethodAnswer,
	MethodBye, MethodAttach, MethodModify, MethodInfo, MethodSubscribe,
	MethodUnsubscribe, MethodBroadcast, MethodPing,
}

// Common param keys added on the XCC bus.
const (
	KeySessid   = "sessid"
	KeyNodeUUID = "node_uuid"
	KeyCtrlUUID = "ctrl_uuid"
	KeyXrtcUser = "xrtc_user"
	KeyCallID   = "callID"
)

// Flex is a string that may be written as a JSON string or number
// (causeCode, conferenceCanvasID and a few others arrive either way).
type Flex string

// UnmarshalJSON accepts a string, a number, a boolean or null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
	case 'n':
		*f = ""
	case '{', '[':
		return fmt.Errorf("verto: want a string or number, got %.10s", b)
	default:
		*f = Flex(b)
	}
	return nil
}

// Int returns the value as an integer.
func (f Flex) Int() (int, bool) {
	n, err := strconv.Atoi(string(f))
	return n, err == nil
}

// Channels is an eventChannel param: one name or an array of names.
type Channels []string

// UnmarshalJSON accepts a string or an array of strings.
func (c *Channels) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = Channels{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return fmt.Errorf("verto: eventChannel must be a string or an array of strings")
	}
	*c = ss
	return nil
}

// LoginParams are the params of login.
type LoginParams struct {
	Login         string         `json:"login,omitempty"`
	Passwd        string         `json:"passwd,omitempty"`
	LoginParams   map[string]any `json:"loginParams,omitempty"`
	UserVariables map[string]any `json:"userVariables,omitempty"`
	Sessid        string         `json:"sessid,omitempty"`
}

// errSlow sends LoginParams.UnmarshalJSON to encoding/json.
var errSlow = errors.New("verto: login params: not the usual shape")

// UnmarshalJSON reads login params as encoding/json would, without its
// reflection for the usual shape (a login runs it once per socket):
// members in order, the last of a repeated string winning, repeated maps
// merged. Anything unusual (a name in another case, a value of the wrong
// type) is left to encoding/json, which decides and names the error.
func (p *LoginParams) UnmarshalJSON(b []byte) error {
	type plain LoginParams
	var out LoginParams
	err := eachMember(b, DefaultLimits.MaxDepth, false, func(key []byte, val json.RawMessage) error {
		var dst *string
		var m *map[string]any
		switch string(key) {
		case "login":
			dst = &out.Login
		case "passwd":
			dst = &out.Passwd
		case "sessid":
			dst = &out.Sessid
		case "loginParams":
			m = &out.LoginParams
		case "userVariables":
			m = &out.UserVariables
		default:
			for _, name := range [...]string{"login", "passwd", "sessid", "loginParams", "userVariables"} {
				if strings.EqualFold(string(key), name) {
					return errSlow
				}
			}
			return nil
		}
		if string(val) == "null" {
			return nil
		}
		if dst == nil {
			return json.Unmarshal(val, m)
		}
		s, ok := unquote(val)
		if !ok {
			return errSlow
		}
		*dst = s
		return nil
	})
	if err != nil {
		return json.Unmarshal(b, (*plain)(p))
	}
	*p = out
	return nil
}

// LoginParam returns loginParams[k] as a string.
func (p *LoginParams) LoginParam(k string) string {
	if s, ok := p.LoginParams[k].(string); ok {
		return s
	}
	return ""
}

// LoginResult is the result of a successful login.
type LoginResult struct {
	Message     string `json:"message"`
	Sessid      string `json:"sessid,omitempty"`
	AuthExpires int64  `json:"auth-expires,omitempty"`
	Moderator   bool   `json:"moderator,omitempty"`
	StereoAudio bool   `json:"stereoAudio,omitempty"`
	Superuser   bool   `json:"superuser,omitempty"`
}

// DialogParams are the call data verto.js copies into every call method.
// Fields the server does not act on are left in the raw params.
type DialogParams struct {
	CallID               string            `json:"callID,omitempty"`
	DestinationNumber    string            `json:"destination_number,omitempty"`
	CallerIDName         string            `json:"caller_id_name,omitempty"`
	CallerIDNumber       string            `json:"caller_id_number,omitempty"`
	RemoteCallerIDName   string            `json:"remote_caller_id_name,omitempty"`
	RemoteCallerIDNumber string            `json:"remote_caller_id_number,omitempty"`
	CalleeIDName         string            `json:"callee_id_name,omitempty"`
	CalleeIDNumber       string            `json:"callee_id_number,omitempty"`
	ANI                  string            `json:"ani,omitempty"`
	ANIII                string            `json:"aniii,omitempty"`
	RDNIS                string            `json:"rdnis,omitempty"`
	Login                string            `json:"login,omitempty"`
	ScreenShare          bool              `json:"screenShare,omitempty"`
	SecondSource         bool              `json:"secondSource,omitempty"`
	RecoverCall          *bool             `json:"recoverCall,omitempty"`
	DedEnc               bool              `json:"dedEnc,omitempty"`
	MirrorInput          bool              `json:"mirrorInput,omitempty"`
	ConferenceCanvasID   Flex              `json:"conferenceCanvasID,omitempty"`
	OutgoingBandwidth    Flex              `json:"outgoingBandwidth,omitempty"`
	IncomingBandwidth    Flex              `json:"incomingBandwidth,omitempty"`
	UserVariables        map[string]any    `json:"userVariables,omitempty"`
	Audio                *AudioParams      `json:"audio,omitempty"`
	UseVideo             json.RawMessage   `json:"useVideo,omitempty"`
	NodeUUID             string            `json:"node_uuid,omitempty"`
	Variables            map[string]string `json:"variables,omitempty"`
}

// AudioParams are the browser's audio processing switches.
type AudioParams struct {
	EchoCancellation *bool `json:"echoCancellation,omitempty"`
	NoiseSuppression *bool `json:"noiseSuppression,omitempty"`
	AutoGainControl  *bool `json:"autoGainControl,omitempty"`
}

// CallParams are the params of the client's call-scoped methods
// (verto.invite, verto.answer, verto.attach, verto.bye, verto.modify,
// verto.info). Every field is optional in the type; handlers check what
// their method requires.
type CallParams struct {
	Sessid       string        `json:"sessid,omitempty"`
	SDP          string        `json:"sdp,omitempty"`
	DialogParams *DialogParams `json:"dialogParams,omitempty"`
	NodeUUID     string        `json:"node_uuid,omitempty"`
	CtrlUUID     string        `json:"ctrl_uuid,omitempty"`
	XrtcUser     *User         `json:"xrtc_user,omitempty"`

	// verto.bye
	Cause     string `json:"cause,omitempty"`
	CauseCode Flex   `json:"causeCode,omitempty"`

	// verto.modify
	Action        string `json:"action,omitempty"`
	Destination   string `json:"destination,omitempty"`
	ReplaceCallID string `json:"replaceCallID,omitempty"`

	// verto.info
	DTMF    string          `json:"dtmf,omitempty"`
	Msg     *ChatMessage    `json:"msg,omitempty"`
	Txt     json.RawMessage `json:"txt,omitempty"`
	Command json.RawMessage `json:"command,omitempty"`
	Type    string          `json:"type,omitempty"`

	// answer, attach
	CalleeIDName   string `json:"callee_id_name,omitempty"`
	CalleeIDNumber string `json:"callee_id_number,omitempty"`

	EchoParams json.RawMessage `json:"echoParams,omitempty"`
}

// CallID returns dialogParams.callID, or "".
func (p *CallParams) CallID() string {
	if p.DialogParams == nil {
		return ""
	}
	return p.DialogParams.CallID
}

// ChatMessage is verto.info's msg.
type ChatMessage struct {
	To       string `json:"to,omitempty"`
	From     string `json:"from,omitempty"`
	Body     string `json:"body,omitempty"`
	InDialog bool   `json:"inDialog,omitempty"`
}

// User is the identity XCtrl asserts for a logged-in socket when it relays
// to a node (params.xrtc_user). The node trusts it and does not
// re-authenticate.
type User struct {
	Login          string `json:"login"`
	ID             string `json:"id"`
	Domain         string `json:"domain"`
	Context        string `json:"context,omitempty"`
	Dialplan       string `json:"dialplan,omitempty"`
	CallerIDName   string `json:"caller_id_name,omitempty"`
	CallerIDNumber string `json:"caller_id_number,omitempty"`
	// Variables are the directory's variables of the user (they win on a
	// channel); UserVariables the client's login userVariables (they only
	// fill names the directory leaves unset).
	Variables     map[string]string `json:"variables,omitempty"`
	UserVariables map[string]any    `json:"user_variables,omitempty"`
	// ClientAddress is the client's IP address as XCtrl saw it (or as a
	// proxy XCtrl trusts forwarded it); ClientPort its port when known.
	ClientAddress string `json:"client_address,omitempty"`
	ClientPort    int    `json:"client_port,omitempty"`
}

// InviteResult is the result of a client verto.invite.
type InviteResult struct {
	Message  string `json:"message"`
	CallID   string `json:"callID"`
	NodeUUID string `json:"node_uuid,omitempty"`
	Sessid   string `json:"sessid,omitempty"`
}

// ByeResult is the result of a client verto.bye.
type ByeResult struct {
	CallID    string `json:"callID"`
	Message   string `json:"message"`
	Cause     string `json:"cause"`
	CauseCode int    `json:"causeCode"`
	Sessid    string `json:"sessid,omitempty"`
}

// ModifyResult is the result of verto.modify.
type ModifyResult struct {
	CallID    string `json:"callID"`
	Action    string `json:"action"`
	HoldState string `json:"holdState"`
	Message   string `json:"message,omitempty"`
	SDP       string `json:"sdp,omitempty"`
	Sessid    string `json:"sessid,omitempty"`
}

// Hold states in ModifyResult.
const (
	HoldStateHeld   = "held"
	HoldStateActive = "active"
)

// Modify actions.
const (
	ActionHold         = "hold"
	ActionUnhold       = "unhold"
	ActionToggleHold   = "toggleHold"
	ActionTransfer     = "transfer"
	ActionReplace      = "replace"
	ActionVideoRefresh = "videoRefresh"
	ActionUpdateMedia  = "updateMedia"
)

// MessageResult is a {message} result (verto.info SENT, verto.ping PONG,
// CALL CREATED ...).
type MessageResult struct {
	Message     string `json:"message"`
	Sessid      string `json:"sessid,omitempty"`
	AuthExpires int64  `json:"auth-expires,omitempty"`
}

// AckResult is what verto.js answers to a server request about a call.
type AckResult struct {
	Method string `json:"method"`
}

// SubscribeParams are the params of verto.subscribe and verto.unsubscribe.
type SubscribeParams struct {
	EventChannel Channels        `json:"eventChannel"`
	SubParams    json.RawMessage `json:"subParams,omitempty"`
	Sessid       string          `json:"sessid,omitempty"`
}

// SubscribeResult is the result of verto.subscribe.
type SubscribeResult struct {
	SubscribedChannels        []string `json:"subscribedChannels,omitempty"`
	AlreadySubscribedChannels []string `json:"alreadySubscribedChannels,omitempty"`
	UnauthorizedChannels      []string `json:"unauthorizedChannels,omitempty"`
	Sessid                    string   `json:"sessid,omitempty"`
}

// UnsubscribeResult is the result of verto.unsubscribe.
type UnsubscribeResult struct {
	UnsubscribedChannels  []string `json:"unsubscribedChannels,omitempty"`
	NotSubscribedChannels []string `json:"notSubscribedChannels,omitempty"`
	Sessid                string   `json:"sessid,omitempty"`
}

// BroadcastParams are the params of verto.broadcast. XCtrl stamps UserID,
// FromDisplay and Sessid from its own login data.
type BroadcastParams struct {
	EventChannel   string          `json:"eventChannel"`
	Data           json.RawMessage `json:"data,omitempty"`
	LocalBroadcast bool            `json:"localBroadcast,omitempty"`
	UserID         string          `json:"userid,omitempty"`
	FromDisplay    string          `json:"fromDisplay,omitempty"`
	Sessid         string          `json:"sessid,omitempty"`
}

// LiveArrayCommand is data.liveArray of a broadcast (bootstrap, changepage,
// heartbeat).
type LiveArrayCommand struct {
	Command string          `json:"command"`
	Context string          `json:"context"`
	Name    string          `json:"name"`
	Obj     json.RawMessage `json:"obj,omitempty"`
}

// EventParams are the params of verto.event (server->client).
type EventParams struct {
	EventChannel      string          `json:"eventChannel"`
	EventType         string          `json:"eventType,omitempty"`
	Data              json.RawMessage `json:"data,omitempty"`
	PvtData           json.RawMessage `json:"pvtData,omitempty"`
	EventData         json.RawMessage `json:"eventData,omitempty"`
	EventSerno        *int64          `json:"eventSerno,omitempty"`
	SubscribedChannel string          `json:"subscribedChannel,omitempty"`
	Sessid            string          `json:"sessid,omitempty"`
	NodeUUID          string          `json:"node_uuid,omitempty"`
}

// PvtData is the private data of a conference join/part event (PROTOCOL.md
// 5.2).
type PvtData struct {
	CallID             string `json:"callID,omitempty"`
	Action             string `json:"action,omitempty"`
	LAChannel          string `json:"laChannel,omitempty"`
	LAName             string `json:"laName,omitempty"`
	Role               string `json:"role,omitempty"`
	ChatID             string `json:"chatID,omitempty"`
	ConferenceMemberID Flex   `json:"conferenceMemberID,omitempty"`
	CanvasCount        int    `json:"canvasCount,omitempty"`
	ChatChannel        string `json:"chatChannel,omitempty"`
	InfoChannel        string `json:"infoChannel,omitempty"`
	ModChannel         string `json:"modChannel,omitempty"`
	SecondScreen       bool   `json:"secondScreen,omitempty"`
}

// Conference pvtData actions.
const (
	PvtActionJoin = "conference-liveArray-join"
	PvtActionPart = "conference-liveArray-part"
)

// Channels returns the conference event channels pvtData names.
func (p *PvtData) Channels() []string {
	var cs []string
	for _, c := range []string{p.LAChannel, p.ChatChannel, p.InfoChannel, p.ModChannel} {
		if c != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

// ClientReadyParams are the params of verto.clientReady.
type ClientReadyParams struct {
	ReattachedSessions []string `json:"reattached_sessions"`
}

// PingParams are the params of a server verto.ping.
type PingParams struct {
	Serno       int64 `json:"serno"`
	AuthExpires int64 `json:"auth-expires,omitempty"`
}

// TryingParams are the params of verto.trying (XCC addition).
type TryingParams struct {
	CallID   string `json:"callID"`
	NodeUUID string `json:"node_uuid"`
}

// ServerCallParams are the params of node->client call messages:
// verto.invite, verto.media, verto.answer, verto.bye, verto.attach,
// verto.display, verto.info.
type ServerCallParams struct {
	CallID           string            `json:"callID"`
	SDP              string            `json:"sdp,omitempty"`
	CallerIDName     string            `json:"caller_id_name,omitempty"`
	CallerIDNumber   string            `json:"caller_id_number,omitempty"`
	CalleeIDName     string            `json:"callee_id_name,omitempty"`
	CalleeIDNumber   string            `json:"callee_id_number,omitempty"`
	DisplayDirection string            `json:"display_direction,omitempty"`
	DisplayName      string            `json:"display_name,omitempty"`
	DisplayNumber    string            `json:"display_number,omitempty"`
	Variables        map[string]string `json:"variables,omitempty"`
	Cause            string            `json:"cause,omitempty"`
	CauseCode        int               `json:"causeCode,omitempty"`
	Msg              *ChatMessage      `json:"msg,omitempty"`

	// Bus fields: which socket, which node, and for calls to users, whom.
	Sessid   string `json:"sessid,omitempty"`
	NodeUUID string `json:"node_uuid,omitempty"`
	CtrlUUID string `json:"ctrl_uuid,omitempty"`
	Login    string `json:"login,omitempty"`
}

// LoginReply is a node's result for xrtc.login: the calls it re-offered
// to the socket with verto.attach.
type LoginReply struct {
	Reattached []string `json:"reattached_sessions"`
	NodeUUID   string   `json:"node_uuid,omitempty"`
}

// AnsweredParams are the params of xrtc.answered.
type AnsweredParams struct {
	CallID   string `json:"callID"`
	Sessid   string `json:"sessid"`
	CtrlUUID string `json:"ctrl_uuid"`
	NodeUUID string `json:"node_uuid,omitempty"`
}

// RingResult is XCtrl's reply to a node's verto.invite for a WebRTC user
// (PROTOCOL.md 4.5).
type RingResult struct {
	Code     int      `json:"code"`
	Message  string   `json:"message"`
	CtrlUUID string   `json:"ctrl_uuid,omitempty"` // the instance that took the call
	Ctrls    []string `json:"ctrls,omitempty"`     // every instance with a ringing socket
	Sockets  int      `json:"sockets,omitempty"`   // how many sockets ring
}

// RingMessage is the message of a successful RingResult.
const RingMessage = "RINGING"
