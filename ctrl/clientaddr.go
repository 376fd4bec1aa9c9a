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
// address it forwarded (see forwarded).
func (ps proxies) clientAddr(r *http.Request) (string, int) {
	host, port := splitHostPort(r.RemoteAddr)
	return ps.forwarded(host, port, r.Header.Values("X-Forwarded-For"), r.Header.Get("X-Real-IP"))
}

// splitHostPort splits host:port; an address that does not split is all
// host, port 0.
func splitHostPort(a string) (string, int) {
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return a, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

// forwarded returns the client's address behind peer host:port: the peer
// itself unless it is a trusted proxy; else the right-most address of the
// X-Forwarded-For values xff that is not a trusted proxy itself (the
// left-most when all are), else X-Real-IP realIP. The port of a forwarded
// client is not known (0).
func (ps proxies) forwarded(host string, port int, xff []string, realIP string) (string, int) {
	peer, err := netip.ParseAddr(host)
	if err != nil || len(ps) == 0 || !ps.trusts(peer) {
		return host, port
	}
	var hops []netip.Addr
	for _, h := range xff {
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
	if a, err := parseHop(realIP); err == nil {
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
