//go:build freeswitch

package integration

import (
	"strconv"
	"strings"
)

// The node sends FreeSWITCH's SDP as FreeSWITCH writes it, as mod_verto
// does: browsers take it. pion is stricter, so this test peer adapts it
// before handing it to pion, as any pion client has to (tools/client does
// its own): FreeSWITCH 1.10/1.11 writes no a=mid (pion refuses an offer
// without mids and ignores the SSRCs of an answer without them) and no
// a=group:BUNDLE (pion rejects the sections of an offer outside a group),
// and it forwards RTP with the SSRC it came with (echo, bridges of one
// codec), which pion drops when the SDP declares another one. So the peer
// adds the mids (the offer's, for an answer), a BUNDLE group of a lone
// section, and drops the a=ssrc lines: pion then takes whatever SSRC comes
// on its single audio section.

// forPion returns FreeSWITCH's sdp adapted for pion; mids are the peer's
// own offer's, for an answer ("" or nil: the sections' indexes).
func forPion(sdp string, mids []string) string {
	eol := "\n"
	if strings.Contains(sdp, "\r\n") {
		eol = "\r\n"
	}
	lines := strings.Split(strings.TrimRight(sdp, "\r\n"), "\n")
	have := sdpMids(sdp)
	var out []string
	section := -1
	pending := false
	flush := func() {
		if !pending {
			return
		}
		mid := strconv.Itoa(section)
		if section < len(mids) && mids[section] != "" {
			mid = mids[section]
		}
		out = append(out, "a=mid:"+mid)
		pending = false
	}
	for _, raw := range lines {
		line := strings.TrimRight(raw, "\r")
		switch {
		case strings.HasPrefix(line, "a=ssrc:") || strings.HasPrefix(line, "a=ssrc-group:"):
			continue
		case strings.HasPrefix(line, "m="):
			flush()
			section++
			pending = section < len(have) && have[section] == ""
		case pending && strings.HasPrefix(line, "a="):
			flush()
		}
		out = append(out, line)
	}
	flush()
	res := strings.Join(out, eol) + eol
	if all := sdpMids(res); len(all) == 1 && !strings.Contains(res, "a=group:") {
		if i := strings.Index(res, "\nm="); i > 0 {
			res = res[:i+1] + "a=group:BUNDLE " + all[0] + eol + res[i+1:]
		}
	}
	return res
}

// sdpMids returns the a=mid of each m-section of sdp ("" where none).
func sdpMids(sdp string) []string {
	var mids []string
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "m="):
			mids = append(mids, "")
		case strings.HasPrefix(line, "a=mid:") && len(mids) > 0:
			mids[len(mids)-1] = strings.TrimSpace(line[len("a=mid:"):])
		}
	}
	return mids
}

// audioPayloads returns the payload types of the first m=audio line.
func audioPayloads(sdp string) []string {
	for _, line := range strings.Split(sdp, "\n") {
		if f := strings.Fields(strings.TrimSpace(line)); len(f) > 3 && f[0] == "m=audio" {
			return f[3:]
		}
	}
	return nil
}
