package verto

// Node status methods (PROTOCOL.md 2.3), published on Subjects.Status.
const (
	MethodNodeRegister   = "Event.NodeRegister"
	MethodNodeUpdate     = "Event.NodeUpdate"
	MethodNodeUnregister = "Event.NodeUnregister"
)

// Node status timing: a node sends an update every NodeUpdateInterval and is
// dead when NodeExpiry passes without one.
const (
	NodeUpdateIntervalSec = 20
	NodeExpirySec         = 45
)

// Node is the params of a node status message (xctrl.Node).
type Node struct {
	UUID                 string       `json:"uuid"`
	Name                 string       `json:"name,omitempty"`
	IP                   string       `json:"ip,omitempty"`
	Version              string       `json:"version,omitempty"`
	Rack                 int          `json:"rack,omitempty"`
	Address              string       `json:"address,omitempty"`
	Uptime               int64        `json:"uptime,omitempty"`
	Sessions             int          `json:"sessions"`
	SessionsMax          int          `json:"sessions_max,omitempty"`
	SPSMax               int          `json:"sps_max,omitempty"`
	SPSLast              int          `json:"sps_last,omitempty"`
	SPSLast5Min          int          `json:"sps_last_5min,omitempty"`
	SessionsSinceStartup int64        `json:"sessions_since_startup,omitempty"`
	SessionPeak5Min      int          `json:"session_peak_5min,omitempty"`
	SessionPeakMax       int          `json:"session_peak_max,omitempty"`
	SIPProfiles          []SIPProfile `json:"sip_profiles,omitempty"`
	ExtIP                string       `json:"ext_ip,omitempty"`
	Shutdown             bool         `json:"shutdown,omitempty"`
	Rank                 int          `json:"rank,omitempty"`
}

// SIPProfile is one entry of Node.SIPProfiles.
type SIPProfile struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// Load is the fraction of the node's capacity in use (0 when it states no
// maximum: then Sessions alone orders nodes).
func (n *Node) Load() float64 {
	if n.SessionsMax <= 0 {
		return 0
	}
	return float64(n.Sessions) / float64(n.SessionsMax)
}

// ControlParams are the params of xrtc.login and xrtc.detach.
type ControlParams struct {
	Sessid   string `json:"sessid"`
	CtrlUUID string `json:"ctrl_uuid"`
	XrtcUser *User  `json:"xrtc_user,omitempty"`
}
