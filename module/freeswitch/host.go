//go:build freeswitch

package main

/*
#include "xrtc.hh"
*/
import "C"

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"xccrtc/module/xrtc"
)

// fsHost is xrtc.Host on FreeSWITCH's C API.
type fsHost struct {
	log *slog.Logger

	rr      sync.Map                          // profile name -> *atomic.Uint64, rtp-ip round robin
	extIPs  atomic.Pointer[map[string]string] // ext-rtp-ip as configured -> resolved at load/reload
	pending sync.Map                          // channel uuid -> outgoing_channel context, while Originate runs
}

var (
	_ xrtc.Host        = (*fsHost)(nil)
	_ xrtc.OfferOnInit = (*fsHost)(nil)
)

// OfferOnInit implements xrtc.OfferOnInit: the offer of a call to a user is
// made in the channel's on_init (xrtcGoChannelInit), after the core has set
// originator_codec, proxy mode and the originate's variables.
func (h *fsHost) OfferOnInit() bool { return true }

func newHost(log *slog.Logger) *fsHost { return &fsHost{log: log} }

// cmem collects C allocations of one call into C and frees them together.
type cmem struct{ ptrs []unsafe.Pointer }

func (m *cmem) str(s string) *C.char {
	p := C.CString(s)
	m.ptrs = append(m.ptrs, unsafe.Pointer(p))
	return p
}

// strs is a C array of C strings.
func (m *cmem) strs(ss []string) **C.char {
	if len(ss) == 0 {
		return nil
	}
	arr := (**C.char)(C.malloc(C.size_t(len(ss)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	m.ptrs = append(m.ptrs, unsafe.Pointer(arr))
	view := unsafe.Slice(arr, len(ss))
	for i, s := range ss {
		view[i] = m.str(s)
	}
	return arr
}

func (m *cmem) vars(vars map[string]string) C.xrtc_vars_t {
	names := make([]string, 0, len(vars))
	values := make([]string, 0, len(vars))
	for k, v := range vars {
		names = append(names, k)
		values = append(values, v)
	}
	return C.xrtc_vars_t{names: m.strs(names), values: m.strs(values), count: C.int(len(names))}
}

func (m *cmem) caller(cp *xrtc.CallerProfile) C.xrtc_caller_t {
	return C.xrtc_caller_t{
		username:           m.str(cp.Username),
		dialplan:           m.str(cp.Dialplan),
		caller_id_name:     m.str(cp.CallerIDName),
		caller_id_number:   m.str(cp.CallerIDNumber),
		callee_id_name:     m.str(cp.CalleeIDName),
		callee_id_number:   m.str(cp.CalleeIDNumber),
		ani:                m.str(cp.ANI),
		aniii:              m.str(cp.ANIII),
		rdnis:              m.str(cp.RDNIS),
		network_addr:       m.str(cp.NetworkAddr),
		source:             m.str(firstOf(cp.Source, "mod_xrtc")),
		context:            m.str(cp.Context),
		destination_number: m.str(cp.DestinationNumber),
	}
}

func (m *cmem) free() {
	for _, p := range m.ptrs {
		C.free(p)
	}
	m.ptrs = nil
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// media turns a profile into the call's media settings, with mod_verto's
// defaults, one rtp-ip per address family picked round robin.
func (h *fsHost) media(m *cmem, p *xrtc.Profile) C.xrtc_media_opts_t {
	var v4s, v6s []string
	for _, ip := range p.RTPIPs {
		if strings.Contains(ip, ":") {
			v6s = append(v6s, ip)
		} else {
			v4s = append(v4s, ip)
		}
	}
	c, _ := h.rr.LoadOrStore(p.Name, new(atomic.Uint64))
	n := c.(*atomic.Uint64).Add(1) - 1
	var v4, v6 string
	if len(v4s) > 0 {
		v4 = v4s[n%uint64(len(v4s))]
	}
	if len(v6s) > 0 {
		v6 = v6s[n%uint64(len(v6s))]
	}
	out := firstOf(p.OutboundCodecString, "opus,vp8")
	return C.xrtc_media_opts_t{
		rtp_ip4:               m.str(v4),
		rtp_ip6:               m.str(v6),
		ext_rtp_ip:            m.str(h.extIP(p.ExtRTPIP)),
		inbound_codec_string:  m.str(firstOf(p.InboundCodecString, out)),
		outbound_codec_string: m.str(out),
		jb_msec:               m.str(firstOf(p.JitterBuffer, "1p:20p")),
		timer_name:            m.str(firstOf(p.TimerName, "soft")),
		local_network:         m.str(firstOf(p.LocalNetwork, "localnet.auto")),
		cand_acl:              m.strs(p.CandidateACLs),
		cand_acl_count:        C.int(len(p.CandidateACLs)),
		enable_text:           cbool(p.EnableText),
	}
}

// extIP is the address ext-rtp-ip resolved to at the last load or reload
// ("" when it did not resolve). Calls never resolve anything: a STUN or DNS
// lookup can block for seconds.
func (h *fsHost) extIP(v string) string {
	if v == "" {
		return ""
	}
	if m := h.extIPs.Load(); m != nil {
		if ip, ok := (*m)[v]; ok {
			return ip
		}
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return v
	}
	return ""
}

// resolveExtIPs resolves every profile's ext-rtp-ip (stun:, host:, autonat:
// with switch_stun_ip_lookup) when the configuration is read, at load and at
// every reload, as mod_verto does when it reads its configuration. A value
// that does not resolve is logged and becomes a warning of its profile
// (`xrtc status`); its calls advertise rtp-ip, and the next reload tries
// again.
func (h *fsHost) resolveExtIPs(cfg *xrtc.Config) {
	next := map[string]string{}
	if old := h.extIPs.Load(); old != nil {
		for k, v := range *old {
			next[k] = v // the configuration in force may still use them
		}
	}
	for _, name := range sortedProfiles(cfg) {
		v := cfg.Profiles[name].ExtRTPIP
		if v == "" {
			continue
		}
		ip := lookupExtIP(v)
		next[v] = ip
		if ip == "" {
			h.log.Warn("mod_xrtc: ext-rtp-ip does not resolve; calls advertise rtp-ip until a reload resolves it", "profile", name, "ext-rtp-ip", v)
			cfg.AddWarning(name, fmt.Sprintf("ext-rtp-ip %q does not resolve: calls advertise rtp-ip; `xrtc reload` tries again", v))
		} else if ip != v {
			h.log.Info("mod_xrtc: ext-rtp-ip resolved", "profile", name, "ext-rtp-ip", v, "ip", ip)
		}
	}
	h.extIPs.Store(&next)
}

// lookupExtIP is switch_stun_ip_lookup: an IP as it is; stun:HOST, host:NAME
// and autonat:IP looked up ("" when that fails).
func lookupExtIP(v string) string {
	if _, err := netip.ParseAddr(v); err == nil {
		return v
	}
	cv := C.CString(v)
	defer C.free(unsafe.Pointer(cv))
	res := C.xrtc_stun_lookup(cv)
	if res == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(res))
	return C.GoString(res)
}

func sortedProfiles(cfg *xrtc.Config) []string {
	names := make([]string, 0, len(cfg.Profiles))
	for n := range cfg.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewInboundCall implements xrtc.Host (mod_verto's verto__invite_func).
func (h *fsHost) NewInboundCall(spec xrtc.InboundSpec) (xrtc.Channel, error) {
	if spec.Profile == nil {
		return nil, errors.New("mod_xrtc: no profile")
	}
	var m cmem
	defer m.free()
	media := h.media(&m, spec.Profile)
	caller := m.caller(&spec.Caller)
	vars := m.vars(spec.Vars)
	r := C.xrtc_new_inbound(m.str(spec.UUID), m.str(spec.Name), &media, m.str(spec.RemoteSDP), &caller, &vars)
	if err := statusErr(r); err != nil {
		if errors.Is(err, xrtc.ErrChannelGone) {
			err = fmt.Errorf("mod_xrtc: cannot create channel %s", spec.UUID)
		}
		return nil, err
	}
	return &fsChannel{uuid: spec.UUID, host: h}, nil
}

// NewOutboundCall implements xrtc.Host. It only works inside the endpoint's
// outgoing_channel (Originate), whose context xrtcGoOriginate left under the
// call's UUID.
func (h *fsHost) NewOutboundCall(spec xrtc.OutboundSpec) (xrtc.Channel, error) {
	v, ok := h.pending.Load(spec.UUID)
	if !ok {
		return nil, fmt.Errorf("mod_xrtc: call %s to a user not made by outgoing_channel: %w", spec.UUID, xrtc.ErrNotSupported)
	}
	if spec.Profile == nil {
		return nil, errors.New("mod_xrtc: no profile")
	}
	var m cmem
	defer m.free()
	media := h.media(&m, spec.Profile)
	caller := m.caller(&spec.Caller)
	vars := m.vars(spec.Vars)
	r := C.xrtc_new_outbound(v.(unsafe.Pointer), m.str(spec.UUID), m.str(spec.Name), &media, &caller, &vars)
	if err := statusErr(r); err != nil {
		return nil, fmt.Errorf("mod_xrtc: cannot create channel %s: %w", spec.UUID, err)
	}
	return &fsChannel{uuid: spec.UUID, host: h}, nil
}

// Broadcast implements xrtc.Host (switch_event_channel_broadcast).
func (h *fsHost) Broadcast(channel string, event json.RawMessage) error {
	var m cmem
	defer m.free()
	if C.xrtc_broadcast(m.str(channel), m.str(string(event))) != C.XRTC_OK {
		return fmt.Errorf("mod_xrtc: broadcast on %q refused", channel)
	}
	return nil
}

// Status implements xrtc.Host.
func (h *fsHost) Status() xrtc.HostStatus {
	var st C.xrtc_status_t
	C.xrtc_host_status(&st)
	return xrtc.HostStatus{
		CoreUUID:             C.GoString(&st.core_uuid[0]),
		Hostname:             C.GoString(&st.hostname[0]),
		Version:              "FreeSWITCH " + C.GoString(&st.version[0]),
		IP:                   C.GoString(&st.ip[0]),
		DefaultDomain:        C.GoString(&st.domain[0]),
		Sessions:             int(st.sessions),
		SessionsMax:          int(st.sessions_max),
		SessionsSinceStartup: int64(st.sessions_since_startup),
		SessionPeakMax:       int(st.session_peak_max),
		SPSLast:              int(st.sps_last),
		SPSMax:               int(st.sps_max),
	}
}

// globalVar reads a FreeSWITCH global variable ($${name}).
func globalVar(name string) (string, bool) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	v := C.xrtc_global_var(cn)
	if v == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(v))
	return C.GoString(v), true
}

// newUUID is a random (version 4) UUID for calls originated without
// origination_uuid.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
