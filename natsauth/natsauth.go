// Package natsauth turns the NATS credentials an operator configures (for
// XCtrl as flags, for the xrtc module as xcc-rtc.conf.xml settings) into
// nats.go connection options, and checks them before anything connects.
// Every way nats.go offers is here: user and password, a token (given or
// read from a file), an nkey seed, a credentials file (JWT + seed), and TLS
// with a CA and a client certificate.
package natsauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Auth is how to authenticate to NATS. The zero value is no
// authentication.
type Auth struct {
	User     string // with Password
	Password string
	// Token, or TokenFile: a file whose first line is the token (the
	// embedded server of XCtrl writes one, mode 0600, for local nodes).
	Token     string
	TokenFile string
	// NKeySeedFile holds an nkey seed (SU...): the client signs the
	// server's nonce with it.
	NKeySeedFile string
	// CredsFile is a decorated JWT plus seed (nsc's .creds).
	CredsFile string
	// TLSCA verifies the server; TLSCert and TLSKey are a client
	// certificate. Any of them turns TLS on.
	TLSCA, TLSCert, TLSKey string
}

// ErrAuth is wrapped by every configuration error.
var ErrAuth = errors.New("nats auth")

// IsZero reports whether no authentication is configured.
func (a Auth) IsZero() bool { return a == Auth{} }

// Validate reports every problem at once: conflicting methods, missing or
// unreadable files, a bad seed.
func (a Auth) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrAuth}, args...)...))
	}
	methods := 0
	for _, set := range []bool{a.User != "" || a.Password != "", a.Token != "" || a.TokenFile != "", a.NKeySeedFile != "", a.CredsFile != ""} {
		if set {
			methods++
		}
	}
	if methods > 1 {
		bad("choose one of user/password, token, nkey seed, credentials file")
	}
	if (a.User == "") != (a.Password == "") {
		bad("user and password go together")
	}
	if a.Token != "" && a.TokenFile != "" {
		bad("token and token file: choose one")
	}
	readable := func(what, path string) {
		if path == "" {
			return
		}
		if _, err := os.ReadFile(path); err != nil {
			bad("%s %s: %v", what, path, err)
		}
	}
	readable("token file", a.TokenFile)
	readable("credentials file", a.CredsFile)
	readable("TLS CA", a.TLSCA)
	readable("TLS certificate", a.TLSCert)
	readable("TLS key", a.TLSKey)
	if a.TokenFile != "" {
		if tok, err := ReadToken(a.TokenFile); err == nil && tok == "" {
			bad("token file %s is empty", a.TokenFile)
		}
	}
	if a.NKeySeedFile != "" {
		if _, err := nkeyOption(a.NKeySeedFile); err != nil {
			bad("nkey seed %s: %v", a.NKeySeedFile, err)
		}
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		bad("TLS certificate and key go together")
	}
	return errors.Join(errs...)
}

// Options returns the nats.go options of a. Call Validate first for a
// complete report; Options fails on the first problem.
func (a Auth) Options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case a.User != "":
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	case a.Token != "":
		opts = append(opts, nats.Token(a.Token))
	case a.TokenFile != "":
		tok, err := ReadToken(a.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAuth, err)
		}
		opts = append(opts, tokenFromFile(a.TokenFile, tok))
	case a.NKeySeedFile != "":
		o, err := nkeyOption(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("%w: nkey seed %s: %v", ErrAuth, a.NKeySeedFile, err)
		}
		opts = append(opts, o)
	case a.CredsFile != "":
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	return opts, nil
}

func nkeyOption(path string) (nats.Option, error) {
	seed, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kp, err := nkeys.ParseDecoratedNKey(seed)
	if err != nil {
		return nil, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return nil, errors.New("not a user seed (SU...)")
	}
	return nats.NkeyOptionFromSeed(path)
}

// tokenFromFile gives the token of a token file at each connect and
// reconnect (nats.go asks the handler every time): XCtrl's embedded NATS
// takes a new token when XCtrl restarts and writes it to the file, and a
// token read once would be refused for good. A file that cannot be read,
// or is empty, gives the token read last.
func tokenFromFile(path, first string) nats.Option {
	var (
		mu   sync.Mutex
		last = first
	)
	return nats.TokenHandler(func() string {
		tok, err := ReadToken(path)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && tok != "" {
			last = tok
		}
		return last
	})
}

// ReadToken reads the token of a token file: its first line, trimmed.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

// WriteToken writes a token file readable by its owner only (0600). The
// file is replaced whole (a new file renamed over it): a node that reads it
// while it is written, at a reconnect, sees the old token or the new one.
// Where the directory is not writable but the file is, the file is written
// in place.
func WriteToken(path, token string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return writeFile(path, token)
		}
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // gone already once renamed
	if err := fill(f, token); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeFile writes the token over path's contents.
func writeFile(path, token string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	return fill(f, token)
}

// fill makes f its owner's only, writes the token in it and closes it.
func fill(f *os.File, token string) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
