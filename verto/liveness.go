package verto

// Liveness and reconciliation on the bus. XCtrl and the nodes watch each
// other through NATS itself: a request that gets "no responders" means
// nobody subscribes the other side's subject any more (its process died,
// or it is off the bus), a reply means it is there. Only a side that is on
// the bus itself draws conclusions.
const (
	// MethodXrtcPing is a request either side sends to the other's subject
	// (cn.xswitch.node.<node_uuid> or cn.xswitch.ctrl.<ctrl_uuid>); the
	// answer is {"message":"PONG"}. Nodes also answer verto.ping.
	MethodXrtcPing = "xrtc.ping"
	// MethodXrtcCalls is XCtrl's request to a node: the calls it holds for
	// that XCtrl's sockets (params {ctrl_uuid}); the answer is CallsReply.
	// XCtrl sends it when it is back on the bus, or when a node it
	// suspected answers again, to drop the calls the node no longer has and
	// re-attach the ones it detached meanwhile.
	MethodXrtcCalls = "xrtc.calls"
)

// CallsReply is a node's answer to xrtc.calls.
type CallsReply struct {
	NodeUUID string      `json:"node_uuid"`
	Calls    []CallState `json:"calls"`
}

// CallState is one call of CallsReply.
type CallState struct {
	CallID   string `json:"callID"`
	Sessid   string `json:"sessid,omitempty"`
	CtrlUUID string `json:"ctrl_uuid,omitempty"`
	// State is the call's state on the node: "ringing", "early",
	// "active", "held", "detached" ...
	State string `json:"state"`
}

// PongResult is the answer to xrtc.ping.
type PongResult struct {
	Message  string `json:"message"`
	NodeUUID string `json:"node_uuid,omitempty"`
	CtrlUUID string `json:"ctrl_uuid,omitempty"`
}
