package xrtc

import (
	"net/netip"

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
		vars[k] = anyString(v)
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
