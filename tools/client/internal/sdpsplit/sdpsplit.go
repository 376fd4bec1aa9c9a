// Package sdpsplit cuts an SDP into its media sections and joins sections
// back into one SDP. It is how a pion client talks to FreeSWITCH as a
// browser does: FreeSWITCH gives each media section its own transport (its
// own ICE credentials, candidates and port, no BUNDLE) and no a=mid, while a
// pion peer connection has one transport and wants a=mid in every remote
// description. The client therefore runs one peer connection per media
// section: Split gives each of them its section as a complete one-section
// SDP (with the mid that peer connection uses, and without a=ssrc, so that
// whatever SSRC the far end sends is accepted), and Join builds the SDP the
// far end sees from the peer connections' own descriptions.
package sdpsplit

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// ErrNoMedia is returned for an SDP without any media section.
var ErrNoMedia = errors.New("sdpsplit: no media section")

// transportAttrs are the session-level attributes that belong to each
// media section's transport: when sections of different peer connections
// are joined they move into each section.
var transportAttrs = []string{"fingerprint", "ice-ufrag", "ice-pwd", "ice-options", "setup", "ice-lite"}

// droppedSessionAttrs are the session-level attributes Join and Single
// leave out: a BUNDLE group means nothing once sections are split.
var droppedSessionAttrs = []string{"group"}

// Section is one media section of a parsed SDP.
type Section struct {
	Index   int      // position in the SDP
	Kind    string   // audio, video, application...
	Mid     string   // a=mid, "" when there is none (FreeSWITCH)
	Port    int      // 0: rejected
	Bundled bool     // in an a=group:BUNDLE with another section
	Codecs  []string // rtpmap encoding names, in order
}

// Desc is a parsed SDP.
type Desc struct {
	d sdp.SessionDescription
}

// Parse parses an SDP.
func Parse(s string) (*Desc, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return nil, fmt.Errorf("sdpsplit: %w", err)
	}
	if len(d.MediaDescriptions) == 0 {
		return nil, ErrNoMedia
	}
	return &Desc{d: d}, nil
}

// Sections describes the media sections, in order.
func (d *Desc) Sections() []Section {
	bundle := bundleMids(&d.d)
	out := make([]Section, 0, len(d.d.MediaDescriptions))
	for i, m := range d.d.MediaDescriptions {
		mid, _ := m.Attribute("mid")
		s := Section{Index: i, Kind: m.MediaName.Media, Mid: mid, Port: m.MediaName.Port.Value}
		s.Bundled = mid != "" && len(bundle) > 1 && slices.Contains(bundle, mid)
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" {
				if _, enc, ok := strings.Cut(a.Value, " "); ok {
					name, _, _ := strings.Cut(enc, "/")
					s.Codecs = append(s.Codecs, name)
				}
			}
		}
		out = append(out, s)
	}
	return out
}

func bundleMids(d *sdp.SessionDescription) []string {
	for _, a := range d.Attributes {
		if a.Key != "group" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) > 0 && f[0] == "BUNDLE" {
			return f[1:]
		}
	}
	return nil
}

// Single returns section i alone as a complete SDP, the way a pion peer
// connection that has only that section wants it: the session part with a
// BUNDLE group of that one section (a pion answerer rejects sections
// outside the offer's group), the section with a=mid:mid (replacing any)
// and without a=ssrc and a=ssrc-group (so that any SSRC the far end sends
// is taken: an echo returns the client's own, a transfer brings a new one).
func (d *Desc) Single(i int, mid string) (string, error) {
	if i < 0 || i >= len(d.d.MediaDescriptions) {
		return "", fmt.Errorf("sdpsplit: no section %d", i)
	}
	out := d.d
	out.Attributes = append(filterAttrs(d.d.Attributes, droppedSessionAttrs...), sdp.Attribute{Key: "group", Value: "BUNDLE " + mid})
	m := *d.d.MediaDescriptions[i]
	m.Attributes = append(filterAttrs(m.Attributes, "mid", "ssrc", "ssrc-group"), sdp.Attribute{Key: "mid", Value: mid})
	out.MediaDescriptions = []*sdp.MediaDescription{&m}
	b, err := out.Marshal()
	if err != nil {
		return "", fmt.Errorf("sdpsplit: %w", err)
	}
	return string(b), nil
}

// Rejected returns section i of d as a rejected section (port 0, no
// candidates), for an answer that does not take it.
func (d *Desc) Rejected(i int) Part {
	m := *d.d.MediaDescriptions[i]
	m.MediaName.Port = sdp.RangedPort{Value: 0}
	var keep []sdp.Attribute
	for _, a := range m.Attributes {
		switch a.Key {
		case "mid", "rtpmap", "fmtp":
			keep = append(keep, a)
		}
	}
	m.Attributes = append(keep, sdp.Attribute{Key: "inactive"})
	return Part{media: &m}
}

func filterAttrs(as []sdp.Attribute, drop ...string) []sdp.Attribute {
	out := make([]sdp.Attribute, 0, len(as))
	for _, a := range as {
		if !slices.Contains(drop, a.Key) {
			out = append(out, a)
		}
	}
	return out
}

// Part is one section of a joined SDP.
type Part struct {
	sdp   string // a one-section SDP from a peer connection
	mid   string // the mid to give it on the wire ("" keeps none)
	media *sdp.MediaDescription
}

// FromPeer is a section made by a peer connection: its one-section local
// description, to appear on the wire with mid (none when mid is "").
func FromPeer(localSDP, mid string) Part { return Part{sdp: localSDP, mid: mid} }

// Join builds one SDP from parts, in order: the session part of the first
// peer part, and each part's media section with its transport attributes
// (ICE credentials, fingerprint, setup) moved into the section, so that
// every section keeps its own transport. Each section with a mid gets a
// BUNDLE group of its own (RFC 8843 allows several): a far end that
// bundles (pion) takes the first section and rejects the others instead of
// rejecting them all; FreeSWITCH ignores the groups.
func Join(parts ...Part) (string, error) {
	var out *sdp.SessionDescription
	var medias []*sdp.MediaDescription
	var groups []sdp.Attribute
	for _, p := range parts {
		if p.media != nil {
			medias = append(medias, p.media)
			continue
		}
		var d sdp.SessionDescription
		if err := d.UnmarshalString(p.sdp); err != nil {
			return "", fmt.Errorf("sdpsplit: join: %w", err)
		}
		if len(d.MediaDescriptions) != 1 {
			return "", fmt.Errorf("sdpsplit: join: a part has %d sections, want 1", len(d.MediaDescriptions))
		}
		m := d.MediaDescriptions[0]
		var moved []sdp.Attribute
		for _, a := range d.Attributes {
			if slices.Contains(transportAttrs, a.Key) {
				if _, has := m.Attribute(a.Key); !has {
					moved = append(moved, a)
				}
			}
		}
		attrs := filterAttrs(m.Attributes, "mid")
		if p.mid != "" {
			attrs = append([]sdp.Attribute{{Key: "mid", Value: p.mid}}, attrs...)
			groups = append(groups, sdp.Attribute{Key: "group", Value: "BUNDLE " + p.mid})
		}
		m.Attributes = append(attrs, moved...)
		medias = append(medias, m)
		if out == nil {
			out = &d
		}
	}
	if out == nil {
		return "", ErrNoMedia
	}
	out.Attributes = append(groups, filterAttrs(out.Attributes, append(slices.Clone(transportAttrs), droppedSessionAttrs...)...)...)
	out.MediaDescriptions = medias
	b, err := out.Marshal()
	if err != nil {
		return "", fmt.Errorf("sdpsplit: join: %w", err)
	}
	return string(b), nil
}

// StripMids removes a=mid and a=group lines from an SDP, as FreeSWITCH
// writes its SDPs. Other lines are left as they are.
func StripMids(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "a=mid:") || strings.HasPrefix(t, "a=group:") {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}
