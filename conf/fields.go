package conf

import (
	"strings"
	"time"
)

// apply sets the field of a settings param from its parsed value.
func (s *Settings) apply(spec ParamSpec, v any) {
	switch spec.Name {
	case "debug":
		setInt(&s.Debug, v)
	case "enable-presence":
		setBool(&s.EnablePresence, v)
	case "enable-fs-events":
		setBool(&s.EnableFSEvents, v)
	case "detach-timeout-sec":
		setDuration(&s.DetachTimeout, v)
	case "nats-url":
		setList(&s.NATSURLs, v, false)
	case "nats-user":
		setString(&s.NATSAuth.User, v)
	case "nats-password":
		setString(&s.NATSAuth.Password, v)
	case "nats-token":
		setString(&s.NATSAuth.Token, v)
	case "nats-token-file":
		setString(&s.NATSAuth.TokenFile, v)
	case "nats-nkey-seed":
		setString(&s.NATSAuth.NKeySeedFile, v)
	case "nats-creds":
		setString(&s.NATSAuth.CredsFile, v)
	case "nats-tls-ca":
		setString(&s.NATSAuth.TLSCA, v)
	case "nats-tls-cert":
		setString(&s.NATSAuth.TLSCert, v)
	case "nats-tls-key":
		setString(&s.NATSAuth.TLSKey, v)
	case "node-uuid":
		setString(&s.NodeUUID, v)
	case "node-subject":
		setString(&s.NodeSubject, v)
	case "node-queue":
		setString(&s.NodeQueue, v)
	case "status-subject":
		setString(&s.StatusSubject, v)
	case "subject-prefix":
		setString(&s.SubjectPrefix, v)
	}
}

// apply sets the field of a profile param from its parsed value. Repeatable
// params append.
func (p *Profile) apply(spec ParamSpec, v any) {
	switch spec.Name {
	case "xrtc-ctrl-subject":
		setString(&p.CtrlSubject, v)
	case "media-timeout":
		setDuration(&p.MediaTimeout, v)
	case "media-hold-timeout":
		setDuration(&p.MediaHoldTimeout, v)
	case "detach-timeout-sec":
		setDuration(&p.DetachTimeout, v)
	case "context":
		setString(&p.Context, v)
	case "dialplan":
		setString(&p.Dialplan, v)
	case "inbound-codec-string":
		setJoined(&p.InboundCodecString, v)
	case "outbound-codec-string":
		setJoined(&p.OutboundCodecString, v)
	case "auto-jitterbuffer-msec":
		setString(&p.AutoJitterbuffer, v)
	case "timer-name":
		setString(&p.TimerName, v)
	case "rtp-ip":
		setList(&p.RTPIPs, v, true)
	case "ext-rtp-ip":
		setString(&p.ExtRTPIP, v)
	case "local-network":
		setString(&p.LocalNetwork, v)
	case "apply-candidate-acl":
		setList(&p.CandidateACLs, v, true)
	case "enable-text":
		setBool(&p.EnableText, v)
	case "replace-any-session":
		setBool(&p.ReplaceAnySession, v)
	case "debug":
		setInt(&p.Debug, v)
	case "force-register-domain":
		setString(&p.ForceRegisterDomain, v)
	}
}

func setInt(dst *int, v any) {
	if n, ok := v.(int64); ok {
		*dst = int(n)
	}
}

func setBool(dst *bool, v any) {
	if b, ok := v.(bool); ok {
		*dst = b
	}
}

func setDuration(dst *time.Duration, v any) {
	if d, ok := v.(time.Duration); ok {
		*dst = d
	}
}

func setString(dst *string, v any) {
	switch v := v.(type) {
	case string:
		*dst = v
	case rawRef:
		*dst = string(v)
	}
}

func setJoined(dst *string, v any) {
	switch v := v.(type) {
	case []string:
		*dst = strings.Join(v, ",")
	case rawRef:
		*dst = string(v)
	}
}

func setList(dst *[]string, v any, appendTo bool) {
	var items []string
	switch v := v.(type) {
	case string:
		items = []string{v}
	case []string:
		items = v
	case rawRef:
		items = []string{string(v)}
	}
	if appendTo {
		*dst = append(*dst, items...)
	} else {
		*dst = items
	}
}
