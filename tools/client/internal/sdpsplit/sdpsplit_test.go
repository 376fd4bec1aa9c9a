package sdpsplit

import (
	"os"
	"strings"
	"testing"
)

// An answer written the way FreeSWITCH writes it (switch_core_media.c):
// no a=mid, no BUNDLE, each section with its own ICE credentials and port.
func freeswitchAnswer(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../../testdata/sdp/freeswitch-answer-audio-video.sdp")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSections(t *testing.T) {
	d, err := Parse(freeswitchAnswer(t))
	if err != nil {
		t.Fatal(err)
	}
	s := d.Sections()
	if len(s) != 2 || s[0].Kind != "audio" || s[1].Kind != "video" || s[0].Mid != "" || s[0].Bundled ||
		s[0].Port != 24680 || s[1].Port != 24682 || s[1].Codecs[0] != "VP8" {
		t.Fatalf("sections %+v", s)
	}
}

func TestSingle(t *testing.T) {
	d, err := Parse(freeswitchAnswer(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ ufrag, kind string }{{"Tq1B2sLTk4sGa3Ij", "m=audio"}, {"x4B8Ke0vM7WQxZ2a", "m=video"}} {
		one, err := d.Single(i, "0")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"a=mid:0", "a=group:BUNDLE 0", "a=ice-ufrag:" + tc.ufrag, tc.kind, "a=candidate:", "a=fingerprint:"} {
			if !strings.Contains(one, want) {
				t.Errorf("section %d lacks %q:\n%s", i, want, one)
			}
		}
		if strings.Contains(one, "a=ssrc:") || strings.Count(one, "m=") != 1 {
			t.Errorf("section %d:\n%s", i, one)
		}
	}
	if _, err := d.Single(2, "0"); err == nil {
		t.Error("Single(2) of two sections")
	}
}

// Join keeps each section's transport: the session-level fingerprint and
// ICE credentials of each part move into its section.
func TestJoin(t *testing.T) {
	part := func(ufrag, media string) string {
		return "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 AA:BB\r\n" +
			"a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:pwpwpwpwpwpwpwpwpwpwpwpw\r\n" +
			"m=" + media + " 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\n"
	}
	off, err := Parse(freeswitchAnswer(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Join(FromPeer(part("aaaa", "audio"), "0"), FromPeer(part("bbbb", "video"), "1"), off.Rejected(1))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	secs := d.Sections()
	if len(secs) != 3 || secs[0].Mid != "0" || secs[1].Mid != "1" || secs[2].Port != 0 || secs[2].Kind != "video" {
		t.Errorf("joined sections %+v\n%s", secs, s)
	}
	head, _, _ := strings.Cut(s, "m=")
	if !strings.Contains(head, "a=group:BUNDLE 0\r\na=group:BUNDLE 1\r\n") || strings.Contains(head, "ice-ufrag") || strings.Contains(head, "fingerprint") {
		t.Errorf("session part keeps transport attributes:\n%s", head)
	}
	if strings.Count(s, "a=fingerprint") != 2 || !strings.Contains(s, "a=ice-ufrag:aaaa") || !strings.Contains(s, "a=ice-ufrag:bbbb") {
		t.Errorf("transports not kept:\n%s", s)
	}
	if _, err := Join(); err == nil {
		t.Error("Join of nothing")
	}
	if _, err := Join(FromPeer("junk", "")); err == nil {
		t.Error("Join of junk")
	}
}

func TestStripMids(t *testing.T) {
	in := "v=0\r\na=group:BUNDLE 0 1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=sendrecv\r\n"
	if got, want := StripMids(in), "v=0\r\nm=audio 9 RTP/AVP 0\r\na=sendrecv\r\n"; got != want {
		t.Errorf("StripMids = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "garbage", "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

// FuzzSplit: any SDP that parses can be cut into sections and joined back
// without a panic, and the result parses.
func FuzzSplit(f *testing.F) {
	b, err := os.ReadFile("../../../../testdata/sdp/freeswitch-answer-audio-video.sdp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		var parts []Part
		for _, sec := range d.Sections() {
			one, err := d.Single(sec.Index, "0")
			if err != nil {
				return // pion's marshaller refuses some parsed input
			}
			parts = append(parts, FromPeer(one, "x"), d.Rejected(sec.Index))
		}
		out, err := Join(parts...)
		if err != nil {
			return
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("joined SDP does not parse: %v\n%s", err, out)
		}
	})
}
