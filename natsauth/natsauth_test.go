package natsauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

func startServer(t *testing.T, o *server.Options) string {
	t.Helper()
	o.Host, o.Port, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

func connect(t *testing.T, url string, a Auth) error {
	t.Helper()
	if err := a.Validate(); err != nil {
		return err
	}
	opts, err := a.Options()
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(0))...)
	if err != nil {
		return err
	}
	nc.Close()
	return nil
}

func write(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserPasswordAndToken(t *testing.T) {
	url := startServer(t, &server.Options{Username: "xctrl", Password: "s3cret"})
	if err := connect(t, url, Auth{User: "xctrl", Password: "s3cret"}); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := connect(t, url, Auth{User: "xctrl", Password: "wrong"}); err == nil {
		t.Fatal("wrong password connected")
	}
	if err := connect(t, url, Auth{}); err == nil {
		t.Fatal("no credentials connected")
	}
	turl := startServer(t, &server.Options{Authorization: "tok-123"})
	if err := connect(t, turl, Auth{Token: "tok-123"}); err != nil {
		t.Fatalf("token: %v", err)
	}
	file := filepath.Join(t.TempDir(), "nats.token")
	if err := WriteToken(file, "tok-123"); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v", st.Mode().Perm())
	}
	if err := connect(t, turl, Auth{TokenFile: file}); err != nil {
		t.Fatalf("token file: %v", err)
	}
}

func TestNKey(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	url := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	if err := connect(t, url, Auth{NKeySeedFile: write(t, "user.nk", string(seed))}); err != nil {
		t.Fatalf("nkey: %v", err)
	}
	other, _ := nkeys.CreateUser()
	oseed, _ := other.Seed()
	if err := connect(t, url, Auth{NKeySeedFile: write(t, "other.nk", string(oseed))}); err == nil {
		t.Fatal("an unknown nkey connected")
	}
	acct, _ := nkeys.CreateAccount()
	aseed, _ := acct.Seed()
	if err := (Auth{NKeySeedFile: write(t, "acct.nk", string(aseed))}).Validate(); err == nil {
		t.Fatal("an account seed accepted as a user seed")
	}
}

func TestTLSWithClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "test CA", true)
	srvCert, srvKey := newCert(t, ca, caKey, "127.0.0.1", false)
	cliCert, cliKey := newCert(t, ca, caKey, "xctrl", false)
	files := map[string][]byte{"ca.pem": pemCert(ca), "srv.pem": pemCert(srvCert), "srv.key": pemKey(t, srvKey),
		"cli.pem": pemCert(cliCert), "cli.key": pemKey(t, cliKey)}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: f("srv.pem"), KeyFile: f("srv.key"), CaFile: f("ca.pem"), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	url := startServer(t, &server.Options{TLSConfig: tc, TLS: true, TLSVerify: true, TLSTimeout: 2})
	url = strings.Replace(url, "nats://", "tls://", 1)
	if err := connect(t, url, Auth{TLSCA: f("ca.pem"), TLSCert: f("cli.pem"), TLSKey: f("cli.key")}); err != nil {
		t.Fatalf("tls with a client certificate: %v", err)
	}
	if err := connect(t, url, Auth{TLSCA: f("ca.pem")}); err == nil {
		t.Fatal("connected without the client certificate the server requires")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Auth{User: "u", Token: "t", TokenFile: "/nonexistent/tok", TLSCert: "/nonexistent/c.pem"}.Validate()
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{"choose one", "user and password", "token and token file", "/nonexistent/tok", "/nonexistent/c.pem", "TLS certificate and key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	if (Auth{}).Validate() != nil || !(Auth{}).IsZero() {
		t.Fatal("the zero Auth is not valid and zero")
	}
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true,
	}
	if !isCA {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b})
}

// WriteToken replaces the file whole, owner-only, and reads back; where
// only the file (not its directory) is writable, it writes in place.
func TestWriteToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nats.token")
	for _, tok := range []string{"first", "second"} {
		if err := WriteToken(path, tok); err != nil {
			t.Fatal(err)
		}
		got, err := ReadToken(path)
		if err != nil || got != tok {
			t.Fatalf("read back %q, %v; want %q", got, err, tok)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, %v", st.Mode(), err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	if os.Geteuid() == 0 {
		t.Skip("root writes in a read-only directory: the in-place case cannot be seen")
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := WriteToken(path, "third"); err != nil {
		t.Fatalf("in a read-only directory: %v", err)
	}
	if got, _ := ReadToken(path); got != "third" {
		t.Fatalf("read back %q", got)
	}
}
