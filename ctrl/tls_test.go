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
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	return certFile, keyFile
}

// writeCert writes a certificate for 127.0.0.1 with serial number serial,
// valid for serial hours, and its key, over the two files (as a renewal
// does).
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "xctrl test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Duration(serial) * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
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

// servedSerial is the serial number of the certificate a new wss socket
// is shown.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a test certificate
	if err != nil {
		t.Fatalf("tls: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// A renewed certificate (certbot, an ACME client, cert-manager: new files
// over the old) is served to new sockets without a restart, which would
// drop every socket: at once on SIGHUP (Server.Reload), and by itself
// within Timers.CertCheck of the files changing. A renewal that left a
// broken pair keeps the certificate in use, and says so.
func TestCertificateRenewedWithoutRestart(t *testing.T) {
	cert, key := selfSigned(t)
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(func(c *ctrl.Config) {
		c.WSSListen = "127.0.0.1:0"
		c.CertFile, c.KeyFile = cert, key
		c.Timers.CertCheck = time.Hour // only Reload, for the first part
	})
	if got := servedSerial(t, x.WSSAddr()); got != 1 {
		t.Fatalf("serving certificate %d, want 1", got)
	}
	writeCert(t, cert, key, 2)
	if err := x.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := servedSerial(t, x.WSSAddr()); got != 2 {
		t.Fatalf("after the renewal and a reload: certificate %d, want 2", got)
	}
	if left := time.Until(time.Unix(int64(counterValue(t, x, "xctrl_tls_certificate_not_after_seconds")), 0)); left < 90*time.Minute {
		t.Errorf("the expiry metric says %v left, want the renewed certificate's 2 h", left.Round(time.Second))
	}
	// A half-written renewal: the key is not a key.
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := x.Reload(); err == nil {
		t.Error("a broken key pair was reloaded without an error")
	}
	if got := servedSerial(t, x.WSSAddr()); got != 2 {
		t.Fatalf("after a broken renewal: certificate %d, want 2 kept", got)
	}

	// Without a signal: the files are looked at every CertCheck.
	y := e.StartCtrl(func(c *ctrl.Config) {
		c.WSSListen = "127.0.0.1:0"
		c.CertFile, c.KeyFile = selfSigned(t)
		c.Timers.CertCheck = 50 * time.Millisecond
	})
	yc := y.Config()
	writeCert(t, yc.CertFile, yc.KeyFile, 3)
	for servedSerial(t, y.WSSAddr()) != 3 {
		select { // polling: the check runs on handshakes, at most every CertCheck
		case <-e.Ctx.Done():
			t.Fatal("the renewed certificate was never served without a reload")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
