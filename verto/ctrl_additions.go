package verto

// Additions made for XCtrl (ctrl/). They extend the contract without
// changing anything above.

// KeyForwardedBy marks a node's verto.invite for a WebRTC user that one
// XCtrl forwards to another XCtrl holding some of the user's sockets. Its
// value is the forwarding instance's ctrl_uuid. The receiving instance rings
// only its own sockets and answers with its RingResult (or
// USER_NOT_REGISTERED when it holds none): it never forwards again.
const KeyForwardedBy = "xrtc_forwarded_by"

// MethodCtrlStartUp is the documented XCC announcement of a controller
// (params {ctrl_uuid}) on Subjects.AnyNode. XCtrl sends it when it starts so
// that nodes may publish Event.NodeRegister at once instead of at their next
// 20 s update; a node that ignores it is still found by its next update.
const MethodCtrlStartUp = "XNode.CtrlStartUp"

// Messages XCtrl puts in errors that mod_verto has no equivalent for.
const (
	// MsgNodeTimeout: the node did not answer a relayed request in time.
	MsgNodeTimeout = "NODE TIMEOUT"
	// MsgCallAnswered: a node's error for a second verto.answer of a call
	// that rang on several sockets.
	MsgCallAnswered = "CALL ALREADY ANSWERED"
	// MsgTooManySockets: a login refused because its user holds as many
	// logged-in sockets on the instance as it may (XCtrl's
	// --max-sockets-per-user), with code CodeAuthFailed.
	MsgTooManySockets = "Too many sockets for this user"
	// MsgTooManyCalls: an invite refused because its user holds as many
	// calls through the XCtrl instance as it allows (--max-calls-per-user).
	MsgTooManyCalls = "Too many calls for this user"
	// MsgSent is the message of XCtrl's NATS reply to a node->client request
	// that was queued to the socket.
	MsgSent = "SENT"
)
