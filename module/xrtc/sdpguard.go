package xrtc

import (
	"fmt"
	"strings"

	"xccrtc/verto"
)

// The longest ICE credentials a client's SDP may carry to the switch.
// FreeSWITCH builds each STUN binding request it sends, whose USERNAME is
// "<its own ufrag>:<the client's>", in a 256-byte buffer, and copies the
// username in without a bound (switch_rtp.c, ice_out). A 60 KB ufrag
// crashed it: SIGSEGV in ice_out, its stack overwritten with the ufrag's
// bytes. Browsers send 4 to 32 characters (RFC 8839 allows 256); 64 leaves
// room in that buffer for FreeSWITCH's own ufrag and its software
// attribute. The password only keys the message integrity: 256, RFC 8839's
// bound.
const (
	maxICEUfrag = 64
	maxICEPwd   = 256
)

// checkClientSDP refuses, as an SDP that does not parse, a client's SDP
// the switch must not see: one that holds a variable reference
// (verto.VarRef), or whose ice-ufrag or ice-pwd, at session or media
// level, is longer than the bounds above. Everything else is the switch's
// to read, as mod_verto leaves it. Lines are cut and attributes
// named as FreeSWITCH's SDP parser (sofia-sip) and switch_core_media read
// them: a line ends at CR or LF, leading blanks go, the attribute's name
// is matched in any case, and what follows its ':' is the value.
func checkClientSDP(sdp string) error {
	// The switch keeps it in a channel variable, and refuses to set one
	// it would expand, with a CRIT line in its log.
	if i := verto.VarRef(sdp); i >= 0 {
		return fmt.Errorf("%w: a variable reference (${) at byte %d", ErrBadSDP, i)
	}
	isEnd := func(r rune) bool { return r == '\r' || r == '\n' }
	for line := range strings.FieldsFuncSeq(sdp, isEnd) {
		attr, ok := strings.CutPrefix(strings.TrimLeft(line, " \t"), "a=")
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(attr, ":")
		if !ok {
			continue
		}
		name = strings.Trim(name, " \t")
		for _, a := range [...]struct {
			name string
			max  int
		}{{"ice-ufrag", maxICEUfrag}, {"ice-pwd", maxICEPwd}} {
			if strings.EqualFold(name, a.name) && len(value) > a.max {
				return fmt.Errorf("%w: %s of %d bytes, at most %d", ErrBadSDP, a.name, len(value), a.max)
			}
		}
	}
	return nil
}

// A client's SDP goes into the switch through these three, each once
// checkClientSDP passed it: the offer of a call it places, its answer
// (to a call to it, or to a re-offer), and a new offer on an answered
// call.

func (e *Endpoint) newInboundCall(spec InboundSpec) (Channel, error) {
	if err := checkClientSDP(spec.RemoteSDP); err != nil {
		return nil, err
	}
	return e.host.NewInboundCall(spec)
}

func setRemoteAnswer(ch Channel, sdp string) error {
	if err := checkClientSDP(sdp); err != nil {
		return err
	}
	return ch.SetRemoteAnswer(sdp)
}

func renegotiate(ch Channel, offer string) (string, error) {
	if err := checkClientSDP(offer); err != nil {
		return "", err
	}
	return ch.Renegotiate(offer)
}
