package client

import (
	"net/netip"
	"strings"
)

// withDefaultAddress writes, as a browser does (RFC 8839 5.1), the address
// of a media section's first ICE candidate into its c= line, where pion
// leaves 0.0.0.0. FreeSWITCH reads a media c= of 0.0.0.0 as "hold": on a
// call it negotiates afresh after the answer (a call it recovered after a
// restart), the media would stay paused.
func withDefaultAddress(sdp string) string {
	lines := strings.Split(sdp, "\r\n")
	start := -1
	fix := func(end int) {
		if start < 0 {
			return
		}
		c, addr := -1, netip.Addr{}
		for i := start; i < end; i++ {
			l := lines[i]
			switch {
			case c < 0 && (l == "c=IN IP4 0.0.0.0" || l == "c=IN IP6 ::"):
				c = i
			case !addr.IsValid() && strings.HasPrefix(l, "a=candidate:"):
				if f := strings.Fields(l); len(f) > 5 {
					addr, _ = netip.ParseAddr(f[4])
				}
			}
		}
		if c < 0 || !addr.IsValid() {
			return
		}
		if addr.Is4() {
			lines[c] = "c=IN IP4 " + addr.String()
		} else {
			lines[c] = "c=IN IP6 " + addr.String()
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "m=") {
			fix(i)
			start = i
		}
	}
	fix(len(lines))
	return strings.Join(lines, "\r\n")
}
