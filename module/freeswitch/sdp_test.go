package main

import (
	"reflect"
	"strings"
	"testing"
)

const fsAnswer = "v=0\r\n" +
	"o=FreeSWITCH 1 2 IN IP4 127.0.0.1\r\n" +
	"s=FreeSWITCH\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 19710 UDP/TLS/RTP/SAVPF 0 112\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=sendrecv\r\n" +
	"m=video 19712 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"b=AS:1000\r\n" +
	"a=rtpmap:96 VP8/90000\r\n"

const browserOffer = "v=0\r\n" +
	"o=- 1 2 IN IP4 0.0.0.0\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE audio0 v1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 0 111\r\n" +
	"a=mid:audio0\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"a=mid:v1\r\n"

func TestSDPMids(t *testing.T) {
	if got := sdpMids(browserOffer); !reflect.DeepEqual(got, []string{"audio0", "v1"}) {
		t.Errorf("mids of the offer: %q", got)
	}
	if got := sdpMids(fsAnswer); !reflect.DeepEqual(got, []string{"", ""}) {
		t.Errorf("mids of FreeSWITCH's answer: %q", got)
	}
}

func TestWithMidsAnswer(t *testing.T) {
	got := withMids(fsAnswer, sdpMids(browserOffer))
	want := strings.Replace(fsAnswer, "m=audio 19710 UDP/TLS/RTP/SAVPF 0 112\r\n", "m=audio 19710 UDP/TLS/RTP/SAVPF 0 112\r\na=mid:audio0\r\n", 1)
	want = strings.Replace(want, "b=AS:1000\r\n", "b=AS:1000\r\na=mid:v1\r\n", 1)
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if again := withMids(got, nil); again != got {
		t.Errorf("a second pass changed it:\n%s", again)
	}
}

func TestWithMidsOffer(t *testing.T) {
	got := withMids(fsAnswer, nil)
	if !reflect.DeepEqual(sdpMids(got), []string{"0", "1"}) {
		t.Errorf("offer mids: %q\n%s", sdpMids(got), got)
	}
	// A section without attributes gets its a=mid at its end.
	bare := "v=0\nm=audio 1 RTP/AVP 0\nm=video 2 RTP/AVP 96\n"
	if got := withMids(bare, nil); got != "v=0\nm=audio 1 RTP/AVP 0\na=mid:0\nm=video 2 RTP/AVP 96\na=mid:1\n" {
		t.Errorf("bare:\n%s", got)
	}
	if withMids("", nil) != "" {
		t.Error("empty SDP changed")
	}
}

func TestFixOffer(t *testing.T) {
	one := "v=0\r\no=x 1 2 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=audio 1 RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n"
	want := "v=0\r\no=x 1 2 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 1 RTP/SAVPF 0\r\na=mid:0\r\na=rtpmap:0 PCMU/8000\r\n"
	if got := fixOffer(one); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := fixOffer(want); got != want {
		t.Errorf("second pass: %q", got)
	}
	// Two sections: mids, no BUNDLE.
	if got := fixOffer(fsAnswer); strings.Contains(got, "BUNDLE") || !reflect.DeepEqual(sdpMids(got), []string{"0", "1"}) {
		t.Errorf("two sections:\n%s", got)
	}
	if got := fixAnswer(fsAnswer, browserOffer); !reflect.DeepEqual(sdpMids(got), []string{"audio0", "v1"}) || strings.Contains(got, "BUNDLE") {
		t.Errorf("answer:\n%s", got)
	}
}
