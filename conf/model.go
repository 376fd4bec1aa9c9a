// Package conf is the one typed model of xcc-rtc.conf.xml, the configuration of
// the xrtc FreeSWITCH endpoint, and of the FreeSWITCH directory XML that XCtrl
// uses to log users in.
//
// A configuration is read with positions (every problem names file:line),
// validated all at once (Config.Validate returns every problem), edited in
// place without losing comments or order (Config.Set, Config.WriteTo),
// generated (Sample) and converted from mod_verto's verto.conf.xml (Convert).
// FreeSWITCH $${name} references are kept as written until Config.Resolve
// substitutes them from a variable map.
package conf

import (
	"strings"
	"time"

	"github.com/beevik/etree"

	"xccrtc/natsauth"
)

// ConfigName is the name attribute of the <configuration> element.
const ConfigName = "xcc-rtc.conf"

// DefaultProfile is the profile used by dial strings that name none
// (xrtc/user@domain).
const DefaultProfile = "default"

// Param is one <param name= value=> as read, in document order.
type Param struct {
	Name  string // as written
	Value string // resolved value (equal to Raw unless the Config was resolved)
	Raw   string // value as written, $${name} references kept
	Line  int
}

// Settings is the <settings> element with defaults filled in. Fields of a
// parameter whose value is an unresolved $${name} reference keep their
// default (strings keep the reference as written) until Config.Resolve.
type Settings struct {
	Debug          int           // debug, 0..7
	EnablePresence bool          // enable-presence
	EnableFSEvents bool          // enable-fs-events
	DetachTimeout  time.Duration // detach-timeout-sec
	NATSURLs       []string      // nats-url, split at commas
	NATSAuth       natsauth.Auth // nats-user, nats-password, nats-token(-file), nats-nkey-seed, nats-creds, nats-tls-*
	NodeUUID       string        // node-uuid, "" = FreeSWITCH core UUID
	NodeSubject    string        // node-subject
	NodeQueue      string        // node-queue
	StatusSubject  string        // status-subject
	SubjectPrefix  string        // subject-prefix

	Line   int     // line of <settings>, 0 when absent
	Params []Param // raw params in document order
}

// Profile is one <profile name=...> with defaults filled in. Unresolved
// references are handled as in Settings.
type Profile struct {
	Name string
	Line int

	CtrlSubject         string        // xrtc-ctrl-subject
	MediaTimeout        time.Duration // media-timeout, 0 = off
	MediaHoldTimeout    time.Duration // media-hold-timeout as set, 0 = derived; see HoldTimeout
	DetachTimeout       time.Duration // detach-timeout-sec, 0 = settings; see EffectiveDetachTimeout
	Context             string        // context
	Dialplan            string        // dialplan
	InboundCodecString  string        // inbound-codec-string, defaults to OutboundCodecString
	OutboundCodecString string        // outbound-codec-string
	AutoJitterbuffer    string        // auto-jitterbuffer-msec
	TimerName           string        // timer-name
	RTPIPs              []string      // rtp-ip, in order
	ExtRTPIP            string        // ext-rtp-ip
	LocalNetwork        string        // local-network
	CandidateACLs       []string      // apply-candidate-acl, in order
	EnableText          bool          // enable-text
	ReplaceAnySession   bool          // replace-any-session
	Debug               int           // debug, 0..7
	ForceRegisterDomain string        // force-register-domain

	Params []Param // raw params in document order
}

// HoldMultiplier derives media-hold-timeout from media-timeout when the
// former is 0: a held call may legitimately send no media for a while.
const HoldMultiplier = 10

// HoldTimeout is the media timeout that applies while the call is on hold:
// media-hold-timeout if set, else HoldMultiplier x media-timeout (0 = off when
// media-timeout is off too).
func (p *Profile) HoldTimeout() time.Duration {
	if p.MediaHoldTimeout > 0 {
		return p.MediaHoldTimeout
	}
	return HoldMultiplier * p.MediaTimeout
}

// EffectiveDetachTimeout is the profile's detach-timeout-sec, or the settings
// value when the profile does not set one.
func (p *Profile) EffectiveDetachTimeout(s *Settings) time.Duration {
	if p.DetachTimeout > 0 || p.hasParam("detach-timeout-sec") {
		return p.DetachTimeout
	}
	return s.DetachTimeout
}

// hasValue reports whether the profile sets name to a non-blank value (a
// bad one included: that is reported on its own).
func (p *Profile) hasValue(name string) bool {
	for _, q := range p.Params {
		if strings.EqualFold(q.Name, name) && strings.TrimSpace(q.Value) != "" {
			return true
		}
	}
	return false
}

func (p *Profile) hasParam(name string) bool {
	for _, q := range p.Params {
		if strings.EqualFold(q.Name, name) {
			return true
		}
	}
	return false
}

// Config is one xcc-rtc.conf.xml: the typed view and the XML document it was
// read from. Edits go to the document (comments and order are kept) and the
// typed view is rebuilt. Make one with Load, Parse, Resolve or Convert. Reading
// a Config from several goroutines is safe; editing it is not.
type Config struct {
	File     string // name used in problem reports
	Name     string // name attribute of <configuration>
	Settings Settings
	Profiles []*Profile // document order; duplicates are kept and reported

	profilesLine int // line of <profiles>, or of <configuration> when absent

	doc      *etree.Document
	lines    map[*etree.Element]int
	vars     map[string]string // nil = references kept as written
	problems Problems          // found while building the typed view
	unres    *refCollector
}

// Profile returns the first profile with that name.
func (c *Config) Profile(name string) (*Profile, bool) {
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// ProfileNames returns the profile names in document order.
func (c *Config) ProfileNames() []string {
	names := make([]string, len(c.Profiles))
	for i, p := range c.Profiles {
		names[i] = p.Name
	}
	return names
}
