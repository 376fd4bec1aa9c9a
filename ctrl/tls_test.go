package ctrl_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "xctrl test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestWSS(t *testing.T) {
	cert, key := selfSigned(t)
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.WSListen = ""
		c.WSSListen = "127.0.0.1:0"
		c.CertFile, c.KeyFile = cert, key
		c.Limits.MaxPreLoginPerAddr = 1
	})
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a test certificate
	// One socket not logged in per address: each login over TLS must give
	// its slot back (the gate finds it under the TLS connection), or the
	// second socket is refused.
	for i := 0; i < 2; i++ {
		conn, _, err := d.DialContext(e.Ctx, "wss://"+x.WSSAddr()+"/", nil)
		if err != nil {
			t.Fatalf("wss socket %d: %v", i+1, err)
		}
		defer conn.Close()
		login := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"login","params":{"login":"1000@example.com","passwd":"secret","sessid":"tls-%d"}}`, i)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(login)); err != nil {
			t.Fatal(err)
		}
		_, b, err := conn.ReadMessage()
		if err != nil || !strings.Contains(string(b), `"logged in"`) {
			t.Fatalf("%s %v", b, err)
		}
	}
	if _, _, err := d.DialContext(e.Ctx, "wss://"+x.WSSAddr()+"/", nil); err != nil {
		t.Fatalf("a wss socket after two logins: %v", err)
	}
	if _, _, err := d.DialContext(e.Ctx, "wss://"+x.WSSAddr()+"/", nil); err == nil {
		t.Fatal("a 2nd wss socket not logged in was taken (bound 1)")
	}
}
