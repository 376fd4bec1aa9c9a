//go:build freeswitch

package integration

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sipMessage is a SIP phone sending a MESSAGE into FreeSWITCH's internal
// profile (127.0.0.1:5060) as a stock user, answering the digest challenge
// (auth-messages is on by default). to is the Request-URI's user part:
// "xrtc+1001+xrtc.test" reaches the xrtc chat interface as 1001@xrtc.test,
// "verto+1001+127.0.0.1" mod_verto's (sofia's proto+user form). It returns
// the final status line.
func sipMessage(t *testing.T, user, passwd, to, body string) string {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fs := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	uri := "sip:" + to + "@127.0.0.1:5060"
	callID, tag := randHex(8)+"@127.0.0.1", randHex(4)
	send := func(cseq int, auth string) {
		msg := fmt.Sprintf("MESSAGE %s SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:%s@127.0.0.1>;tag=%s\r\n"+
			"To: <sip:%s@127.0.0.1>\r\n"+
			"Call-ID: %s\r\n"+
			"CSeq: %d MESSAGE\r\n"+
			"%s"+
			"Content-Type: text/plain\r\n"+
			"Content-Length: %d\r\n\r\n%s",
			uri, conn.LocalAddr(), randHex(6), user, tag, to, callID, cseq, auth, len(body), body)
		if _, err := conn.WriteToUDP([]byte(msg), fs); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		buf := make([]byte, 8192)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("SIP MESSAGE: no answer: %v", err)
			}
			if resp := string(buf[:n]); !strings.HasPrefix(resp, "SIP/2.0 1") {
				return resp
			}
		}
	}
	send(1, "")
	resp := read()
	status := strings.SplitN(resp, "\r\n", 2)[0]
	if strings.Contains(status, " 401 ") || strings.Contains(status, " 407 ") {
		hdr, authHdr := "WWW-Authenticate", "Authorization"
		if strings.Contains(status, " 407 ") {
			hdr, authHdr = "Proxy-Authenticate", "Proxy-Authorization"
		}
		ch := regexp.MustCompile(`(?im)^` + hdr + `:\s*Digest\s+(.*)$`).FindStringSubmatch(resp)
		if ch == nil {
			t.Fatalf("SIP MESSAGE: challenge without %s:\n%s", hdr, resp)
		}
		param := func(k string) string {
			m := regexp.MustCompile(k + `="?([^",\r]*)"?`).FindStringSubmatch(ch[1])
			if m == nil {
				return ""
			}
			return m[1]
		}
		realm, nonce, qop := param("realm"), param("nonce"), param("qop")
		ha1 := md5hex(user + ":" + realm + ":" + passwd)
		ha2 := md5hex("MESSAGE:" + uri)
		auth := fmt.Sprintf(`%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5`, authHdr, user, realm, nonce, uri)
		if strings.Contains(qop, "auth") {
			cnonce := randHex(8)
			auth += fmt.Sprintf(`, qop=auth, nc=00000001, cnonce="%s", response="%s"`, cnonce,
				md5hex(ha1+":"+nonce+":00000001:"+cnonce+":auth:"+ha2))
		} else {
			auth += fmt.Sprintf(`, response="%s"`, md5hex(ha1+":"+nonce+":"+ha2))
		}
		send(2, auth+"\r\n")
		resp = read()
		status = strings.SplitN(resp, "\r\n", 2)[0]
	}
	return status
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
