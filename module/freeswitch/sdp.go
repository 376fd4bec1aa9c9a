package main

import "strings"

// FreeSWITCH 1.10 and 1.11 write no a=mid, which JSEP (RFC 8829) requires
// in every m-section, and no a=group:BUNDLE. Browsers let it pass; pion
// refuses an offer without mids, rejects (port 0) every section of an offer
// outside a BUNDLE group, and ignores the SSRCs of an answer without mids.
// The binding therefore completes the SDP it hands the endpoint: an answer
// gets the offer's mid for each m-section (fixAnswer); an offer gets the
// sections' indexes as mids and, when it has one m-section only, a BUNDLE
// group of it (fixOffer: FreeSWITCH uses one transport per section, so
// several sections cannot be bundled). Nothing else changes, and
// FreeSWITCH keeps its own copy as it wrote it.

// fixAnswer completes a local answer to offer.
func fixAnswer(answer, offer string) string { return withMids(answer, sdpMids(offer)) }

// fixOffer completes a local offer.
func fixOffer(offer string) string {
	offer = withMids(offer, nil)
	mids := sdpMids(offer)
	if len(mids) != 1 || strings.Contains(offer, "\na=group:") {
		return offer
	}
	i := strings.Index(offer, "\nm=")
	if i < 0 {
		return offer
	}
	eol := "\n"
	if i > 0 && offer[i-1] == '\r' {
		eol = "\r\n"
		i--
	}
	return offer[:i] + eol + "a=group:BUNDLE " + mids[0] + offer[i:]
}

// sdpMids returns the a=mid value of each m-section of sdp, in order ("" for
// a section without one).
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

// withMids returns sdp with an a=mid line in every m-section that has none:
// mids[i] for the i-th section when there is one, else the index. The line
// goes before the section's first attribute, after m=, i=, c=, b= and k=.
func withMids(sdp string, mids []string) string {
	if sdp == "" {
		return sdp
	}
	have := sdpMids(sdp)
	missing := false
	for _, m := range have {
		if m == "" {
			missing = true
		}
	}
	if !missing {
		return sdp
	}
	eol := "\n"
	if strings.Contains(sdp, "\r\n") {
		eol = "\r\n"
	}
	lines := strings.Split(strings.TrimRight(sdp, "\r\n"), "\n")
	out := make([]string, 0, len(lines)+len(have))
	section := -1
	pending := false // the current section still needs its a=mid
	flush := func() {
		if !pending {
			return
		}
		mid := ""
		if section < len(mids) {
			mid = mids[section]
		}
		if mid == "" {
			mid = itoa(section)
		}
		out = append(out, "a=mid:"+mid)
		pending = false
	}
	for _, raw := range lines {
		line := strings.TrimRight(raw, "\r")
		switch {
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
	return strings.Join(out, eol) + eol
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
