package ctrl

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// proxies are the trusted HTTP proxies (Config.TrustedProxies).
type proxies []netip.Prefix

// parseProxies reads IPs and CIDRs.
func parseProxies(list []string) (proxies, error) {
	var ps proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			ps = append(ps, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted-proxy %q: want an IP address or a CIDR", s)
		}
		a = a.Unmap()
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}

func (ps proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's IP address and port as XCtrl believes
// them: the socket's peer; or, when the peer is a trusted proxy, the
// address it forwarded: the right-most address of X-Forwarded-For that is
// not a trusted proxy itself (the left-most when all are), else X-Real-IP.
// The port of a forwarded client is not known (0).
func (ps proxies) clientAddr(r *http.Request) (string, int) {
	host, portStr, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, 0
	}
	port, _ := strconv.Atoi(portStr)
	peer, err := netip.ParseAddr(host)
	if err != nil || len(ps) == 0 || !ps.trusts(peer) {
		return host, port
	}
	var hops []netip.Addr
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(h, ",") {
			a, err := parseHop(part)
			if err != nil {
				hops = nil // a hop we cannot read: trust none of the list
				break
			}
			hops = append(hops, a)
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if !ps.trusts(hops[i]) || i == 0 {
			return hops[i].String(), 0
		}
	}
	if a, err := parseHop(r.Header.Get("X-Real-IP")); err == nil {
		return a.String(), 0
	}
	return host, port
}

// parseHop reads one forwarded address: an IP, possibly with a port or in
// brackets.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, err
	}
	return a.Unmap(), nil
}
