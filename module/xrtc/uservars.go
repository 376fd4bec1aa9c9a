package xrtc

import (
	"net/netip"
	"strings"

	"xccrtc/verto"
)

// setUserVars puts a logged-in user's variables into vars the way mod_verto
// does on an invite (verto__invite_func) and an answer
// (verto__answer_func): the client's login userVariables first, the
// directory's variables over them, so a browser cannot widen toll_allow or
// spoof accountcode; then what switch_ivr_set_user sets (user_name,
// domain_name) and the client's address (verto_client_address). The caller
// sets its own identity variables (verto_user, presence_id ...) after these,
// so no client variable overrides them either.
func setUserVars(vars map[string]string, u *verto.User) {
	if u == nil {
		return
	}
	for k, v := range u.UserVariables {
		if s := anyString(v); clientVarAllowed(k, s) {
			vars[k] = s
		}
	}
	for k, v := range u.Variables {
		vars[k] = v
	}
	if u.ID != "" && u.Domain != "" {
		vars["user_name"], vars["domain_name"] = u.ID, u.Domain
	}
	if a := clientAddress(u); a != "" {
		vars["verto_client_address"] = a
	}
}

// Client-supplied variables (login userVariables) may not set what makes
// FreeSWITCH run something, or what names the caller, bills the call or
// routes it: mod_verto copies them all, so a browser could set
// execute_on_answer=system ... or api_hangup_hook and run commands on the
// switch, or spoof its caller id where the directory leaves it unset. Such
// names, and names or values FreeSWITCH would expand (verto.VarRef: ${...},
// $\{...} too), are dropped; the
// directory (the operator) still sets any of them.
var (
	clientVarDenyPrefix = []string{
		"execute_on_", "api_on_", "api_hangup_hook", "api_reporting_hook", "api_after_bridge", "api_before_bridge",
		"session_in_hangup_hook", "exec_after_bridge_", "bridge_pre_execute_", "record_post_process_exec_",
		"transfer_after_", "park_after_bridge", "hangup_after_bridge", "origination_", "effective_caller_id_",
		"outbound_caller_id_", "sip_h_", "sip_rh_", "sip_ph_", "verto_", "xrtc_", "nolocal:", "export_vars",
		"bypass_media", "proxy_media", "absolute_codec_string", "codec_string",
	}
	clientVarDeny = map[string]bool{
		"accountcode": true, "toll_allow": true, "user_context": true, "user_name": true, "domain_name": true,
		"presence_id": true, "jsock_uuid_str": true, "event_channel_cookie": true, "chat_proto": true,
		"continue_on_fail": true, "call_timeout": true, "leg_timeout": true, "media_timeout": true,
		"max_forwards": true, "call_direction": true, "network_addr": true, "caller_id_name": true,
		"caller_id_number": true,
	}
)

// clientVarAllowed reports whether a client may set variable name to value.
func clientVarAllowed(name, value string) bool {
	n := strings.ToLower(name)
	if n == "" || clientVarDeny[n] || verto.VarRef(name) >= 0 || verto.VarRef(value) >= 0 {
		return false
	}
	for _, p := range clientVarDenyPrefix {
		if strings.HasPrefix(n, p) {
			return false
		}
	}
	return true
}

// clientAddress is the client's address as mod_verto writes it into
// verto_client_address: "ip:port", "[ipv6]:port", or the bare IP when XCtrl
// knows no port; "" when XCtrl sent none or it is not an IP address.
func clientAddress(u *verto.User) string {
	ip, err := netip.ParseAddr(u.ClientAddress)
	if err != nil {
		return ""
	}
	if u.ClientPort <= 0 || u.ClientPort > 65535 {
		return ip.String()
	}
	return netip.AddrPortFrom(ip, uint16(u.ClientPort)).String()
}

// clientIP is the client's IP address for the caller profile's network_addr
// (mod_verto: the WebSocket peer's address), "" when unknown.
func clientIP(u *verto.User) string {
	if u == nil {
		return ""
	}
	ip, err := netip.ParseAddr(u.ClientAddress)
	if err != nil {
		return ""
	}
	return ip.String()
}
