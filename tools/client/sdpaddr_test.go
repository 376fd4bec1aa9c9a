package client

import "testing"

func TestWithDefaultAddress(t *testing.T) {
	in := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP6 ::\r\na=candidate:2 1 udp 1 fd00::5 40002 typ host\r\n"
	want := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n" +
		"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n" + // no candidate: left alone
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP6 fd00::5\r\na=candidate:2 1 udp 1 fd00::5 40002 typ host\r\n"
	if got := withDefaultAddress(in); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
