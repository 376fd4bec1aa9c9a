package verto

// Contacts: where a user's sockets are, for the node's xrtc_contact API
// (mod_verto's verto_contact) and its chat to users (mod_verto's
// chat_send). The node asks XCtrl; XCtrl answers from the registry in NATS.

// MethodXrtcContact is the node's request for a user's sockets, on the
// profile's xrtc-ctrl-subject (queue xctrl: any XCtrl answers).
const MethodXrtcContact = "xrtc.contact"

// NotRegisteredDialString is the dial string of a user with no socket, as
// mod_verto's verto_contact answers it.
const NotRegisteredDialString = "error/user_not_registered"

// ContactParams are the params of xrtc.contact.
type ContactParams struct {
	Login    string `json:"login"` // user@domain, as the sockets logged in
	NodeUUID string `json:"node_uuid,omitempty"`
}

// Contact is one logged-in socket.
type Contact struct {
	Sessid   string `json:"sessid"`
	CtrlUUID string `json:"ctrl_uuid"` // the XCtrl that holds it
}

// ContactResult is XCtrl's answer to xrtc.contact: every socket of the user
// on every instance, none when the user has no socket.
type ContactResult struct {
	Login    string    `json:"login"`
	Sockets  []Contact `json:"sockets"`
	CtrlUUID string    `json:"ctrl_uuid,omitempty"` // the instance that answered
}

// SocketDialString is the per-socket dial string of a sessid:
// xrtc/[profile/]u:<sessid>.
func SocketDialString(profile, sessid string) string {
	d := DialString{Profile: profile, Sessid: sessid}
	return d.String()
}

// SocketDialable reports whether a sessid can be written in a per-socket
// dial string (verto.js sessids, UUIDs, always can).
func SocketDialable(sessid string) bool {
	if CheckSessid(sessid) != nil {
		return false
	}
	d, err := ParseTarget(SocketPrefix + sessid)
	return err == nil && d.Sessid == sessid && len(d.Params) == 0
}
