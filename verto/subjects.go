package verto

import "strings"

// DefaultSubjectPrefix is the root of every XCC subject.
const DefaultSubjectPrefix = "cn.xswitch"

// Queue groups. Nodes share one so that an "any node" request reaches one
// node; controllers share another for calls to WebRTC users.
const (
	NodeQueue = "xnode"
	CtrlQueue = "xctrl"
)

// Subjects names the NATS subjects of the XCC bus under a prefix
// (default "cn.xswitch"; a multi-tenant deployment puts its own in front).
type Subjects struct {
	Prefix string
}

// DefaultSubjects returns the subjects under DefaultSubjectPrefix.
func DefaultSubjects() Subjects { return Subjects{Prefix: DefaultSubjectPrefix} }

func (s Subjects) p() string {
	if s.Prefix == "" {
		return DefaultSubjectPrefix
	}
	return s.Prefix
}

// AnyNode is the subject every node queue-subscribes (one node gets each
// message).
func (s Subjects) AnyNode() string { return s.p() + ".node" }

// Node is the subject of one node.
func (s Subjects) Node(nodeUUID string) string { return s.p() + ".node." + nodeUUID }

// AnyCtrl is the subject every controller queue-subscribes.
func (s Subjects) AnyCtrl() string { return s.p() + ".ctrl" }

// Ctrl is the subject of one controller. A value that already is a full
// subject under the prefix is returned unchanged, so a dial string may name
// either a ctrl_uuid or a subject.
func (s Subjects) Ctrl(ctrlUUID string) string {
	if strings.HasPrefix(ctrlUUID, s.p()+".") {
		return ctrlUUID
	}
	return s.p() + ".ctrl." + ctrlUUID
}

// CtrlRTC is the default xrtc-ctrl-subject: calls to WebRTC users.
func (s Subjects) CtrlRTC() string { return s.p() + ".ctrl.rtc" }

// Status is the subject of node status messages.
func (s Subjects) Status() string { return s.p() + ".status.node" }
