package ctrl

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certStore serves the wss:// listener's certificate and follows its files:
// a renewal (certbot, an ACME client, cert-manager write new files over the
// old) is served to new sockets without a restart, which would drop every
// socket. The files are looked at on handshakes, at most once every
// interval, and at once on Reload (SIGHUP). A pair that does not load (a
// renewal half-written) keeps the certificate in use.
type certStore struct {
	certFile, keyFile string
	every             time.Duration
	log               *slog.Logger

	cert    atomic.Pointer[tls.Certificate]
	checked atomic.Int64 // unix nanos of the last look at the files

	mu    sync.Mutex // one load at a time; guards seen
	seen  [2]fileStamp
	stale bool // the files changed and did not load: said once
}

// fileStamp is what tells that a file was written again.
type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertStore(certFile, keyFile string, every time.Duration, log *slog.Logger) (*certStore, error) {
	c := &certStore{certFile: certFile, keyFile: keyFile, every: every, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.checked.Store(time.Now().UnixNano())
	return c, nil
}

// load reads the pair and serves it.
func (c *certStore) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := c.stamps()
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("ctrl: certificate %s, key %s: %w", c.certFile, c.keyFile, err)
	}
	if pair.Leaf == nil && len(pair.Certificate) > 0 {
		pair.Leaf, _ = x509.ParseCertificate(pair.Certificate[0])
	}
	c.cert.Store(&pair)
	c.seen, c.stale = seen, false
	return nil
}

func (c *certStore) stamps() [2]fileStamp {
	var out [2]fileStamp
	for i, f := range []string{c.certFile, c.keyFile} {
		if st, err := os.Stat(f); err == nil {
			out[i] = fileStamp{st.ModTime(), st.Size()}
		}
	}
	return out
}

// Reload reads the files again now, changed or not.
func (c *certStore) Reload() error {
	if err := c.load(); err != nil {
		c.log.Error("certificate not reloaded: the one in use stays", "err", err)
		return err
	}
	c.log.Info("certificate reloaded", "file", c.certFile, "not_after", c.NotAfter())
	return nil
}

// GetCertificate is the listener's tls.Config.GetCertificate.
func (c *certStore) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now().UnixNano()
	last := c.checked.Load()
	if now-last >= int64(c.every) && c.checked.CompareAndSwap(last, now) {
		c.follow()
	}
	return c.cert.Load(), nil
}

// follow loads the pair again when its files changed since it was loaded.
func (c *certStore) follow() {
	c.mu.Lock()
	changed, said := c.stamps() != c.seen, c.stale
	c.mu.Unlock()
	if !changed {
		return
	}
	if err := c.load(); err != nil {
		// Perhaps written half: tried again at the next look, said once.
		c.mu.Lock()
		c.stale = true
		c.mu.Unlock()
		if !said {
			c.log.Error("certificate files changed but do not load: the one in use stays", "err", err)
		}
		return
	}
	c.log.Info("certificate renewed", "file", c.certFile, "not_after", c.NotAfter())
}

// NotAfter is when the certificate in use expires.
func (c *certStore) NotAfter() time.Time {
	if p := c.cert.Load(); p != nil && p.Leaf != nil {
		return p.Leaf.NotAfter
	}
	return time.Time{}
}
