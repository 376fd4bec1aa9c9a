package conf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// EffectiveParam is a parameter's value in force: as set, or its default.
type EffectiveParam struct {
	Name string
	Kind Kind
	// Value is typed for JSON: int64 for ints and for the duration kinds (in
	// their unit, ms or s), bool, string, or []string for repeatable and list
	// params. A value that still holds a $${name} reference is its raw string.
	Value any
	Set   bool // false: the default (or a value derived from other params)
}

// Text renders the value for a table.
func (p EffectiveParam) Text() string {
	switch v := p.Value.(type) {
	case []string:
		return strings.Join(v, ",")
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// EffectiveProfile is the parameters in force for one profile.
type EffectiveProfile struct {
	Name   string
	Params []EffectiveParam
}

// Effective is the whole configuration in force, in parameter-table order.
type Effective struct {
	File     string
	Settings []EffectiveParam
	Profiles []EffectiveProfile
}

// Effective returns every applicable parameter with its value in force. On an
// unresolved Config, params holding $${name} show the reference as written.
func (c *Config) Effective() Effective {
	e := Effective{File: c.File}
	for _, s := range specs {
		if s.Scope == ScopeSettings && s.NotApplicable == "" {
			e.Settings = append(e.Settings, effective(s, c.Settings.Params, c.Settings.value(s.Name)))
		}
	}
	for _, p := range c.Profiles {
		ep := EffectiveProfile{Name: p.Name}
		for _, s := range specs {
			if s.Scope == ScopeProfile && s.NotApplicable == "" {
				ep.Params = append(ep.Params, effective(s, p.Params, p.value(s.Name, &c.Settings)))
			}
		}
		e.Profiles = append(e.Profiles, ep)
	}
	return e
}

func effective(s ParamSpec, params []Param, typed any) EffectiveParam {
	ep := EffectiveParam{Name: s.Name, Kind: s.Kind, Value: typed}
	for _, q := range params {
		if !strings.EqualFold(q.Name, s.Name) {
			continue
		}
		ep.Set = true
		if hasRef(q.Value) && !s.Repeatable && s.Kind != KindString {
			ep.Value = q.Value
		}
	}
	if l, ok := ep.Value.([]string); ok && l == nil {
		ep.Value = []string{} // JSON [] rather than null
	}
	return ep
}

func (s *Settings) value(name string) any {
	switch name {
	case "debug":
		return int64(s.Debug)
	case "enable-presence":
		return s.EnablePresence
	case "enable-fs-events":
		return s.EnableFSEvents
	case "detach-timeout-sec":
		return int64(s.DetachTimeout / time.Second)
	case "nats-url":
		return s.NATSURLs
	case "nats-user":
		return s.NATSAuth.User
	case "nats-password", "nats-token":
		// Secrets are not shown: only whether one is set.
		if (name == "nats-password" && s.NATSAuth.Password != "") || (name == "nats-token" && s.NATSAuth.Token != "") {
			return "(set)"
		}
		return ""
	case "nats-token-file":
		return s.NATSAuth.TokenFile
	case "nats-nkey-seed":
		return s.NATSAuth.NKeySeedFile
	case "nats-creds":
		return s.NATSAuth.CredsFile
	case "nats-tls-ca":
		return s.NATSAuth.TLSCA
	case "nats-tls-cert":
		return s.NATSAuth.TLSCert
	case "nats-tls-key":
		return s.NATSAuth.TLSKey
	case "node-uuid":
		return s.NodeUUID
	case "node-subject":
		return s.NodeSubject
	case "node-queue":
		return s.NodeQueue
	case "status-subject":
		return s.StatusSubject
	case "subject-prefix":
		return s.SubjectPrefix
	}
	return nil
}

func (p *Profile) value(name string, s *Settings) any {
	switch name {
	case "xrtc-ctrl-subject":
		return p.CtrlSubject
	case "media-timeout":
		return p.MediaTimeout.Milliseconds()
	case "media-hold-timeout":
		return p.HoldTimeout().Milliseconds()
	case "detach-timeout-sec":
		return int64(p.EffectiveDetachTimeout(s) / time.Second)
	case "context":
		return p.Context
	case "dialplan":
		return p.Dialplan
	case "inbound-codec-string":
		return splitList(p.InboundCodecString)
	case "outbound-codec-string":
		return splitList(p.OutboundCodecString)
	case "auto-jitterbuffer-msec":
		return p.AutoJitterbuffer
	case "timer-name":
		return p.TimerName
	case "rtp-ip":
		return p.RTPIPs
	case "ext-rtp-ip":
		return p.ExtRTPIP
	case "local-network":
		return p.LocalNetwork
	case "apply-candidate-acl":
		return p.CandidateACLs
	case "enable-text":
		return p.EnableText
	case "replace-any-session":
		return p.ReplaceAnySession
	case "debug":
		return int64(p.Debug)
	case "force-register-domain":
		return p.ForceRegisterDomain
	}
	return nil
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// MarshalJSON writes {"file":..., "settings":{param: value...},
// "profiles":[{"name":..., "params":{param: value...}}]}, params in table order.
func (e Effective) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"file":`)
	if err := writeJSON(&b, e.File); err != nil {
		return nil, err
	}
	b.WriteString(`,"settings":`)
	if err := writeParams(&b, e.Settings); err != nil {
		return nil, err
	}
	b.WriteString(`,"profiles":[`)
	for i, p := range e.Profiles {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		if err := writeJSON(&b, p.Name); err != nil {
			return nil, err
		}
		b.WriteString(`,"params":`)
		if err := writeParams(&b, p.Params); err != nil {
			return nil, err
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

func writeParams(b *bytes.Buffer, ps []EffectiveParam) error {
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(b, p.Name); err != nil {
			return err
		}
		b.WriteByte(':')
		if err := writeJSON(b, p.Value); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("conf: encode %v: %w", v, err)
	}
	b.Write(data)
	return nil
}
