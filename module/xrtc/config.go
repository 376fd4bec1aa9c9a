package xrtc

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"xccrtc/conf"
	"xccrtc/natsauth"
	"xccrtc/verto"
)

// Config is the endpoint's view of xcc-rtc.conf.xml: what it acts on, with
// defaults filled in. FromConf builds it from a loaded conf.Config; tests
// build it by hand.
type Config struct {
	Settings Settings
	Profiles map[string]*Profile
	// Warnings are the configuration's warnings that concern no single
	// profile (a profile's own are in Profile.Warnings): `xrtc status`
	// shows them, the binding logs them at load and reload.
	Warnings []string
}

// Settings are the node-wide settings.
type Settings struct {
	Debug          int
	EnablePresence bool          // presence.<id> event channels (presence.go)
	EnableFSEvents bool          // FSevent.<event> event channels (presence.go)
	DetachTimeout  time.Duration // detach-timeout-sec; 0 means DefaultDetachTimeout
	NATSURLs       []string
	NATSAuth       natsauth.Auth
	NodeUUID       string // "" = the switch's core UUID
	SubjectPrefix  string // "" = cn.xswitch
	NodeSubject    string // base of the node subjects; "" = <prefix>.node
	NodeQueue      string // "" = xnode
	StatusSubject  string // "" = <prefix>.status.node
}

// Profile is one <profile>: how the endpoint treats the calls made with it.
type Profile struct {
	Name                string
	CtrlSubject         string        // xrtc-ctrl-subject; "" = <prefix>.ctrl.rtc
	MediaTimeout        time.Duration // media-timeout; 0 = off
	MediaHoldTimeout    time.Duration // media-hold-timeout; 0 = HoldMultiplier x MediaTimeout
	DetachTimeout       time.Duration // 0 = the settings' value
	Context             string
	Dialplan            string
	InboundCodecString  string
	OutboundCodecString string
	JitterBuffer        string
	TimerName           string
	RTPIPs              []string
	ExtRTPIP            string
	LocalNetwork        string
	CandidateACLs       []string
	EnableText          bool
	// ReplaceAnySession (replace-any-session): verto.modify replace
	// takes any session the switch knows, not only the client's own xrtc
	// calls and the sessions bridged to them.
	ReplaceAnySession   bool
	Debug               int
	ForceRegisterDomain string
	// Warnings are what is wrong with the profile without stopping the
	// module (e.g. no rtp-ip: its calls fail, as on mod_verto), shown next
	// to it in `xrtc status`.
	Warnings []string
}

// Defaults the endpoint applies.
const (
	// HoldMultiplier derives the hold timeout from media-timeout when
	// media-hold-timeout is not set: a call on hold may legitimately stop
	// sending media for a while.
	HoldMultiplier       = conf.HoldMultiplier
	DefaultDetachTimeout = 120 * time.Second
	DefaultContext       = "default"
	DefaultDialplan      = "XML"
)

// HoldTimeout is the media timeout in force while the call is on hold.
func (p *Profile) HoldTimeout() time.Duration {
	if p.MediaHoldTimeout > 0 {
		return p.MediaHoldTimeout
	}
	return HoldMultiplier * p.MediaTimeout
}

func (p *Profile) context() string {
	if p.Context == "" {
		return DefaultContext
	}
	return p.Context
}

func (p *Profile) dialplan() string {
	if p.Dialplan == "" {
		return DefaultDialplan
	}
	return p.Dialplan
}

// FromConf turns a loaded (and resolved) configuration into the endpoint's
// view. Duplicate profiles keep the first, as conf.Config.Profile does.
func FromConf(c *conf.Config) Config {
	s := c.Settings
	out := Config{
		Settings: Settings{
			Debug:          s.Debug,
			EnablePresence: s.EnablePresence,
			EnableFSEvents: s.EnableFSEvents,
			DetachTimeout:  s.DetachTimeout,
			NATSURLs:       append([]string(nil), s.NATSURLs...),
			NATSAuth:       s.NATSAuth,
			NodeUUID:       s.NodeUUID,
			SubjectPrefix:  s.SubjectPrefix,
			NodeSubject:    s.NodeSubject,
			NodeQueue:      s.NodeQueue,
			StatusSubject:  s.StatusSubject,
		},
		Profiles: make(map[string]*Profile, len(c.Profiles)),
	}
	for _, p := range c.Profiles {
		if _, dup := out.Profiles[p.Name]; dup {
			continue
		}
		out.Profiles[p.Name] = &Profile{
			Name:                p.Name,
			CtrlSubject:         p.CtrlSubject,
			MediaTimeout:        p.MediaTimeout,
			MediaHoldTimeout:    p.MediaHoldTimeout,
			DetachTimeout:       p.EffectiveDetachTimeout(&c.Settings),
			Context:             p.Context,
			Dialplan:            p.Dialplan,
			InboundCodecString:  p.InboundCodecString,
			OutboundCodecString: p.OutboundCodecString,
			JitterBuffer:        p.AutoJitterbuffer,
			TimerName:           p.TimerName,
			RTPIPs:              append([]string(nil), p.RTPIPs...),
			ExtRTPIP:            p.ExtRTPIP,
			LocalNetwork:        p.LocalNetwork,
			CandidateACLs:       append([]string(nil), p.CandidateACLs...),
			EnableText:          p.EnableText,
			ReplaceAnySession:   p.ReplaceAnySession,
			Debug:               p.Debug,
			ForceRegisterDomain: p.ForceRegisterDomain,
		}
	}
	return out
}

// LoadConfig reads xcc-rtc.conf.xml, substitutes FreeSWITCH's $${name}
// variables from vars, and validates it. A configuration with error-severity
// problems is refused: the error lists every problem (file:line), and the
// caller keeps the configuration it has. Warnings are returned with a valid
// configuration.
func LoadConfig(path string, vars map[string]string) (Config, conf.Problems, error) {
	c, err := conf.Load(path)
	if err != nil {
		return Config{}, nil, err
	}
	if vars != nil {
		if c, err = c.Resolve(vars); err != nil {
			return Config{}, nil, err
		}
	}
	probs := c.Validate(conf.ValidateOptions{})
	if err := probs.Err(); err != nil {
		return Config{}, probs, err
	}
	cfg := FromConf(c)
	for _, p := range probs.Warnings() {
		cfg.AddWarning(p.Profile, warningText(p))
	}
	return cfg, probs.Warnings(), nil
}

// AddWarning files a warning under its profile ("" or an unknown profile:
// the configuration's own).
func (c *Config) AddWarning(profile, text string) {
	if p := c.Profiles[profile]; p != nil && profile != "" {
		p.Warnings = append(p.Warnings, text)
		return
	}
	c.Warnings = append(c.Warnings, text)
}

// warningText is a problem without its file name, for `xrtc status`.
func warningText(p conf.Problem) string {
	s := p.Message
	if p.Param != "" {
		s = fmt.Sprintf("param %q: %s", p.Param, s)
	}
	if p.Line > 0 {
		s = fmt.Sprintf("line %d: %s", p.Line, s)
	}
	return s
}

// Validate checks what the endpoint itself needs of a configuration.
// A configuration without profiles is valid: every call fails until one is
// added (conf warns about it), as mod_verto runs without profiles.
func (c *Config) Validate() error {
	for name, p := range c.Profiles {
		if p == nil || p.Name != name {
			return fmt.Errorf("xrtc: profile %q is malformed", name)
		}
		if p.MediaTimeout < 0 || p.MediaHoldTimeout < 0 || p.DetachTimeout < 0 {
			return fmt.Errorf("xrtc: profile %q: negative timeout", name)
		}
	}
	return nil
}

func (c *Config) subjects() verto.Subjects {
	return verto.Subjects{Prefix: c.Settings.SubjectPrefix}
}

// nodeBase is the subject every node queue-subscribes; its own subject is
// nodeBase + "." + node_uuid.
func (c *Config) nodeBase() string {
	s := c.subjects()
	if c.Settings.NodeSubject == "" || (c.Settings.NodeSubject == verto.DefaultSubjects().AnyNode() && s.Prefix != "") {
		return s.AnyNode()
	}
	return c.Settings.NodeSubject
}

func (c *Config) statusSubject() string {
	s := c.subjects()
	if c.Settings.StatusSubject == "" || (c.Settings.StatusSubject == verto.DefaultSubjects().Status() && s.Prefix != "") {
		return s.Status()
	}
	return c.Settings.StatusSubject
}

func (c *Config) nodeQueue() string {
	if c.Settings.NodeQueue == "" {
		return verto.NodeQueue
	}
	return c.Settings.NodeQueue
}

func (c *Config) detachTimeout(p *Profile) time.Duration {
	if p != nil && p.DetachTimeout > 0 {
		return p.DetachTimeout
	}
	if c.Settings.DetachTimeout > 0 {
		return c.Settings.DetachTimeout
	}
	return DefaultDetachTimeout
}

func (c *Config) profileNames() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ctrlSubject of a profile, defaulting under the prefix.
func (c *Config) ctrlSubject(p *Profile) string {
	if p.CtrlSubject != "" {
		return p.CtrlSubject
	}
	return c.subjects().CtrlRTC()
}

func joinOr(ss []string, empty string) string {
	if len(ss) == 0 {
		return empty
	}
	return strings.Join(ss, ",")
}
