package conf

import "strings"

// Scope says where a parameter lives in xcc-rtc.conf.xml.
type Scope int

const (
	// ScopeProfile is a <param> of a <profile>.
	ScopeProfile Scope = iota
	// ScopeSettings is a <param> of <settings>.
	ScopeSettings
)

// String returns "profile" or "settings".
func (s Scope) String() string {
	if s == ScopeSettings {
		return "settings"
	}
	return "profile"
}

// Kind is the type of a parameter value.
type Kind int

// Parameter kinds. Every kind accepts a value holding a $${name} reference as
// written; such a value is checked once it is resolved.
const (
	KindString  Kind = iota // any text
	KindInt                 // decimal integer, range in ParamSpec.Min/Max
	KindBool                // FreeSWITCH truth: true/false, yes/no, on/off, 1/0 ...
	KindMillis              // integer milliseconds, 0 = off
	KindSeconds             // integer seconds
	KindIP                  // IPv4 or IPv6 address
	KindExtIP               // IP address, or stun:HOST, host:NAME, autonat:IP, auto-nat
	KindSubject             // literal NATS subject: dot-separated tokens, no wildcards
	KindToken               // one NATS subject token: no dots, spaces or wildcards
	KindURLList             // comma-separated NATS URLs
	KindList                // comma-separated names (codecs)
	KindACL                 // ACL name or CIDR
	KindJitter              // jitter buffer spec: LEN[p][:MAX[p][:DRIFT]]
)

var kindNames = [...]string{"string", "int", "bool", "ms", "s", "ip", "ext-ip", "subject", "token", "url-list", "list", "acl", "jitterbuffer"}

// String returns the kind's short name as shown in the README table.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// ParamSpec describes one parameter: where it lives, its type and default, and
// what it means. A spec with NotApplicable set is a mod_verto parameter that
// xrtc accepts with a warning and ignores.
type ParamSpec struct {
	Name       string
	Scope      Scope
	Kind       Kind
	Default    string // value as written in XML when the param is absent; "" = unset
	Min, Max   int64  // range for KindInt (Max > Min when bounded); Min for the duration kinds
	Repeatable bool   // may appear more than once; order is kept
	Doc        string // one-line meaning for the README and the sample
	Example    string // sample value for a param without a default

	// NotApplicable, when set, says why a mod_verto parameter has no meaning in
	// xrtc. Such params are warned about and dropped by Convert.
	NotApplicable string
}

const (
	whyAuth   = "XCtrl authenticates users (directory or token); the node never sees a login"
	whyTLS    = "XCtrl terminates TLS for the WebSocket; the node listens on NATS only"
	whyNoWS   = "XCtrl terminates the WebSocket; the node listens on NATS only"
	whyMcast  = "event-channel broadcasts travel over NATS, not multicast"
	whyNoHTTP = "the node serves no HTTP; host web pages elsewhere"
)

// specs is the parameter table. It is never modified; Specs returns a copy.
var specs = []ParamSpec{
	// <settings>
	{Name: "debug", Scope: ScopeSettings, Kind: KindInt, Default: "0", Min: 0, Max: 7,
		Doc: "log Verto JSON traffic, level 0 (off) to 7"},
	{Name: "enable-presence", Scope: ScopeSettings, Kind: KindBool, Default: "true",
		Doc: "publish presence.<id> event channels"},
	{Name: "enable-fs-events", Scope: ScopeSettings, Kind: KindBool, Default: "false",
		Doc: "publish FreeSWITCH events on FSevent.* event channels"},
	{Name: "detach-timeout-sec", Scope: ScopeSettings, Kind: KindSeconds, Default: "120",
		Doc: "seconds a detached answered call waits for its session to come back"},
	{Name: "nats-url", Scope: ScopeSettings, Kind: KindURLList, Default: "nats://127.0.0.1:4222",
		Doc: "NATS server URLs, comma separated"},
	{Name: "nats-user", Scope: ScopeSettings, Kind: KindString, Default: "", Example: "node1",
		Doc: "NATS user name (with nats-password)"},
	{Name: "nats-password", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "NATS password (with nats-user)"},
	{Name: "nats-token", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "NATS authorization token"},
	{Name: "nats-token-file", Scope: ScopeSettings, Kind: KindString, Default: "", Example: "/var/lib/xctrl/nats.token",
		Doc: "file whose first line is the NATS token (XCtrl's embedded NATS writes one, mode 0600)"},
	{Name: "nats-nkey-seed", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "file holding an nkey user seed (SU...) to sign the server's nonce"},
	{Name: "nats-creds", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "NATS credentials file (user JWT and seed, as nsc writes it)"},
	{Name: "nats-tls-ca", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "CA file (PEM) that verifies the NATS server; any nats-tls-* turns TLS on"},
	{Name: "nats-tls-cert", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "client certificate file (PEM) for NATS, with nats-tls-key"},
	{Name: "nats-tls-key", Scope: ScopeSettings, Kind: KindString, Default: "",
		Doc: "client certificate key file (PEM) for NATS"},
	{Name: "node-uuid", Scope: ScopeSettings, Kind: KindToken, Default: "",
		Doc: "node identity on NATS; empty = the FreeSWITCH core UUID"},
	{Name: "node-subject", Scope: ScopeSettings, Kind: KindSubject, Default: "cn.xswitch.node",
		Doc: "requests to any node (queue) and, with .<node-uuid>, to this node"},
	{Name: "node-queue", Scope: ScopeSettings, Kind: KindToken, Default: "xnode",
		Doc: "NATS queue group the node joins on node-subject"},
	{Name: "status-subject", Scope: ScopeSettings, Kind: KindSubject, Default: "cn.xswitch.status.node",
		Doc: "subject of Event.NodeRegister/NodeUpdate/NodeUnregister heartbeats"},
	{Name: "subject-prefix", Scope: ScopeSettings, Kind: KindSubject, Default: "cn.xswitch",
		Doc: "prefix of controller subjects built from a ctrl_uuid: <prefix>.ctrl.<uuid>"},
	{Name: "send-auth-password", Scope: ScopeSettings, NotApplicable: whyAuth},
	{Name: "kslog", Scope: ScopeSettings, NotApplicable: "the node has no libks WebSocket stack to log"},

	// <profile>
	{Name: "xrtc-ctrl-subject", Scope: ScopeProfile, Kind: KindSubject, Default: "cn.xswitch.ctrl.rtc",
		Doc: "NATS subject for calls to WebRTC users of this profile"},
	{Name: "media-timeout", Scope: ScopeProfile, Kind: KindMillis, Default: "0",
		Doc: "hang up (MEDIA_TIMEOUT) after this many ms without inbound RTP; 0 = off"},
	{Name: "media-hold-timeout", Scope: ScopeProfile, Kind: KindMillis, Default: "0",
		Doc: "the same while the call is on hold; 0 = 10 x media-timeout"},
	{Name: "detach-timeout-sec", Scope: ScopeProfile, Kind: KindSeconds, Default: "", Example: "120",
		Doc: "per-profile override of the settings value; unset = settings"},
	{Name: "context", Scope: ScopeProfile, Kind: KindString, Default: "default",
		Doc: "dialplan context for calls from browsers (user verto-context wins)"},
	{Name: "dialplan", Scope: ScopeProfile, Kind: KindString, Default: "XML",
		Doc: "dialplan type for calls from browsers (user verto-dialplan wins)"},
	{Name: "inbound-codec-string", Scope: ScopeProfile, Kind: KindList, Default: "", Example: "opus,vp8",
		Doc: "codecs accepted from browsers; unset = outbound-codec-string"},
	{Name: "outbound-codec-string", Scope: ScopeProfile, Kind: KindList, Default: "opus,vp8",
		Doc: "codecs offered to browsers"},
	{Name: "auto-jitterbuffer-msec", Scope: ScopeProfile, Kind: KindJitter, Default: "1p:20p",
		Doc: "jitter buffer: LEN[p][:MAX[p]] in ms, or packets with p"},
	{Name: "timer-name", Scope: ScopeProfile, Kind: KindString, Default: "soft",
		Doc: "media timer"},
	{Name: "rtp-ip", Scope: ScopeProfile, Kind: KindIP, Repeatable: true, Example: "$${local_ip_v4}",
		Doc: "local media IP, IPv4 or IPv6; repeat for round-robin; at least one"},
	{Name: "ext-rtp-ip", Scope: ScopeProfile, Kind: KindExtIP, Example: "$${external_rtp_ip}",
		Doc: "advertised public media IP: an IP, stun:HOST, host:NAME or autonat:IP"},
	{Name: "local-network", Scope: ScopeProfile, Kind: KindACL, Default: "localnet.auto",
		Doc: "ACL of the local network"},
	{Name: "apply-candidate-acl", Scope: ScopeProfile, Kind: KindACL, Repeatable: true, Example: "wan_v4.auto",
		Doc: "ACL of ICE candidates accepted; repeat in order; none = all"},
	{Name: "enable-text", Scope: ScopeProfile, Kind: KindBool, Default: "false",
		Doc: "real-time text via verto.info txt"},
	{Name: "replace-any-session", Scope: ScopeProfile, Kind: KindBool, Default: "false",
		Doc: "verto.modify replace takes any session the switch knows (a SIP call, a loopback leg), not only the client's own xrtc calls and the sessions bridged to them"},
	{Name: "debug", Scope: ScopeProfile, Kind: KindInt, Default: "0", Min: 0, Max: 7,
		Doc: "per-profile Verto JSON logging level, 0 to 7"},
	{Name: "force-register-domain", Scope: ScopeProfile, Kind: KindString, Default: "", Example: "$${domain}",
		Doc: "domain for dial strings without @domain (xrtc/1000)"},
	{Name: "bind-local", Scope: ScopeProfile, Repeatable: true, NotApplicable: whyNoWS},
	{Name: "secure-combined", Scope: ScopeProfile, NotApplicable: whyTLS},
	{Name: "secure-cert", Scope: ScopeProfile, NotApplicable: whyTLS},
	{Name: "secure-key", Scope: ScopeProfile, NotApplicable: whyTLS},
	{Name: "secure-chain", Scope: ScopeProfile, NotApplicable: whyTLS},
	{Name: "userauth", Scope: ScopeProfile, NotApplicable: whyAuth},
	{Name: "root-password", Scope: ScopeProfile, NotApplicable: whyAuth},
	{Name: "blind-reg", Scope: ScopeProfile, NotApplicable: whyAuth},
	{Name: "chop-domain", Scope: ScopeProfile, NotApplicable: "XCtrl builds the login id; the node receives user@domain as XCtrl asserts it"},
	{Name: "send-auth-password", Scope: ScopeProfile, NotApplicable: whyAuth},
	{Name: "apply-connection-acl", Scope: ScopeProfile, Repeatable: true, NotApplicable: "WebSocket peers connect to XCtrl, not to the node"},
	{Name: "mcast-ip", Scope: ScopeProfile, NotApplicable: whyMcast},
	{Name: "mcast-port", Scope: ScopeProfile, NotApplicable: whyMcast},
	{Name: "kslog", Scope: ScopeProfile, NotApplicable: "the node has no libks WebSocket stack to log"},
}

// vhostsWhy is why a <vhosts> element inside a profile is ignored.
const vhostsWhy = "vhosts: " + whyNoHTTP

// Specs returns the parameter table in README order: settings first, then
// profile params, applicable ones before the mod_verto leftovers.
func Specs() []ParamSpec { return append([]ParamSpec(nil), specs...) }

// LookupParam finds the spec of a parameter by scope and name. Names match
// case-insensitively, as in FreeSWITCH.
func LookupParam(scope Scope, name string) (ParamSpec, bool) {
	for _, s := range specs {
		if s.Scope == scope && strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return ParamSpec{}, false
}

// specNames returns the applicable parameter names of a scope.
func specNames(scope Scope) []string {
	var names []string
	for _, s := range specs {
		if s.Scope == scope && s.NotApplicable == "" {
			names = append(names, s.Name)
		}
	}
	return names
}
