package ctrl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RegEntry says that socket Sessid of user Login lives on instance CtrlUUID.
type RegEntry struct {
	CtrlUUID string `json:"ctrl_uuid"`
	Sessid   string `json:"sessid"`
	Login    string `json:"login"`
}

// Lease is a registration held by a live socket. The registry refreshes it
// and deletes it only while it is still the latest writer of its keys, so
// closing a socket never removes the entry of the socket that took its
// sessid over.
type Lease struct {
	Entry RegEntry
	revS  atomic.Uint64 // revision of s.<sessid>
	revU  atomic.Uint64 // revision of u.<login>.<sessid>
}

// Registry is the cross-instance table of logged-in sockets. It lives in
// NATS (a JetStream key-value bucket with a TTL): no instance keeps a
// replicated copy of its own.
type Registry interface {
	// Owner returns the instance and login that hold sessid.
	Owner(ctx context.Context, sessid string) (RegEntry, bool, error)
	// Register records a socket and returns its lease.
	Register(ctx context.Context, e RegEntry) (*Lease, error)
	// Refresh re-writes live leases before their TTL runs out.
	Refresh(ctx context.Context, leases []*Lease) error
	// Unregister deletes a lease's keys unless another socket wrote them since.
	Unregister(ctx context.Context, l *Lease) error
	// Lookup lists every socket of a user, on every instance. A user with
	// none answers at once with an empty list.
	Lookup(ctx context.Context, login string) ([]RegEntry, error)
}

// EncodeKey escapes s for use as one token of a key-value key: every byte
// outside [A-Za-z0-9_-] becomes =XX (upper-case hex). "1000@xswitch.cn"
// becomes "1000=40xswitch=2Ecn".
func EncodeKey(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// DecodeKey reverses EncodeKey.
func DecodeKey(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("ctrl: bad key escape in %q", s)
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("ctrl: bad key escape in %q", s)
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	}
	return -1
}

func sessKey(sessid string) string        { return "s." + EncodeKey(sessid) }
func userKey(login, sessid string) string { return "u." + EncodeKey(login) + "." + EncodeKey(sessid) }
func userPrefix(login string) string      { return "u." + EncodeKey(login) + "." }

// KVRegistry implements Registry on a JetStream key-value bucket:
// s.<sessid> -> {ctrl_uuid, login} and u.<login>.<sessid> -> {ctrl_uuid,
// sessid, login}, both expiring after the bucket TTL unless refreshed.
type KVRegistry struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	bucket string
}

// NewKVRegistry creates (or opens) the bucket.
func NewKVRegistry(ctx context.Context, nc *nats.Conn, bucket string, ttl time.Duration, replicas int) (*KVRegistry, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("ctrl: jetstream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "xcc-rtc XCtrl: logged-in Verto sockets",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.MemoryStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ctrl: registry bucket %s: %w", bucket, err)
	}
	return &KVRegistry{js: js, kv: kv, bucket: bucket}, nil
}

func (r *KVRegistry) Owner(ctx context.Context, sessid string) (RegEntry, bool, error) {
	e, err := r.kv.Get(ctx, sessKey(sessid))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return RegEntry{}, false, nil
	}
	if err != nil {
		return RegEntry{}, false, err
	}
	var re RegEntry
	if err := json.Unmarshal(e.Value(), &re); err != nil {
		return RegEntry{}, false, fmt.Errorf("ctrl: registry entry %s: %w", e.Key(), err)
	}
	re.Sessid = sessid
	return re, true, nil
}

func (r *KVRegistry) Register(ctx context.Context, e RegEntry) (*Lease, error) {
	l := &Lease{Entry: e}
	if err := r.Refresh(ctx, []*Lease{l}); err != nil {
		return nil, err
	}
	return l, nil
}

// Refresh writes both keys of every lease with asynchronous publishes and
// waits for the acknowledgements: one round trip for the whole batch.
func (r *KVRegistry) Refresh(ctx context.Context, leases []*Lease) error {
	type put struct {
		l   *Lease
		u   bool
		ack jetstream.PubAckFuture
	}
	var (
		puts []put
		errs []error
	)
	const window = 512
	wait := func() {
		for _, p := range puts {
			select {
			case ack := <-p.ack.Ok():
				if p.u {
					p.l.revU.Store(ack.Sequence)
				} else {
					p.l.revS.Store(ack.Sequence)
				}
			case err := <-p.ack.Err():
				errs = append(errs, err)
			case <-ctx.Done():
				errs = append(errs, ctx.Err())
				return
			}
		}
		puts = puts[:0]
	}
	for _, l := range leases {
		sv, _ := json.Marshal(struct {
			CtrlUUID string `json:"ctrl_uuid"`
			Login    string `json:"login"`
		}{l.Entry.CtrlUUID, l.Entry.Login})
		uv, _ := json.Marshal(l.Entry)
		a1, err := r.js.PublishAsync(r.subject(sessKey(l.Entry.Sessid)), sv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		puts = append(puts, put{l: l, ack: a1})
		a2, err := r.js.PublishAsync(r.subject(userKey(l.Entry.Login, l.Entry.Sessid)), uv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		puts = append(puts, put{l: l, u: true, ack: a2})
		if len(puts) >= window {
			wait()
		}
	}
	wait()
	if len(errs) > 0 {
		return fmt.Errorf("ctrl: registry refresh: %d failed, first: %w", len(errs), errs[0])
	}
	return nil
}

func (r *KVRegistry) subject(key string) string { return "$KV." + r.bucket + "." + key }

func (r *KVRegistry) Unregister(ctx context.Context, l *Lease) error {
	var errs []error
	del := func(key string, rev uint64) {
		if rev == 0 {
			return
		}
		err := r.kv.Delete(ctx, key, jetstream.LastRevision(rev))
		if err != nil && !isWrongSequence(err) {
			errs = append(errs, err)
		}
	}
	del(sessKey(l.Entry.Sessid), l.revS.Load())
	del(userKey(l.Entry.Login, l.Entry.Sessid), l.revU.Load())
	return errors.Join(errs...)
}

// isWrongSequence: the key was written by someone else since our lease.
func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return true
	}
	return errors.Is(err, jetstream.ErrKeyExists) || strings.Contains(err.Error(), "wrong last sequence")
}

// Lookup watches u.<login>.* for the current values only: the server sends
// what it has and an end marker, so a user without sockets is answered at
// once.
func (r *KVRegistry) Lookup(ctx context.Context, login string) ([]RegEntry, error) {
	w, err := r.kv.Watch(ctx, userPrefix(login)+"*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []RegEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return out, nil
			}
			var re RegEntry
			if json.Unmarshal(e.Value(), &re) == nil && re.CtrlUUID != "" {
				out = append(out, re)
			}
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// MemRegistry is an in-process Registry for tests and for a single instance
// without JetStream. It has no TTL.
type MemRegistry struct {
	mu      sync.Mutex
	rev     uint64
	entries map[string]memEntry // sessid ->
}

type memEntry struct {
	e   RegEntry
	rev uint64
}

// NewMemRegistry returns an empty MemRegistry.
func NewMemRegistry() *MemRegistry { return &MemRegistry{entries: map[string]memEntry{}} }

func (m *MemRegistry) Owner(_ context.Context, sessid string) (RegEntry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[sessid]
	return e.e, ok, nil
}

func (m *MemRegistry) Register(ctx context.Context, e RegEntry) (*Lease, error) {
	l := &Lease{Entry: e}
	return l, m.Refresh(ctx, []*Lease{l})
}

func (m *MemRegistry) Refresh(_ context.Context, leases []*Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range leases {
		m.rev++
		m.entries[l.Entry.Sessid] = memEntry{e: l.Entry, rev: m.rev}
		l.revS.Store(m.rev)
		l.revU.Store(m.rev)
	}
	return nil
}

func (m *MemRegistry) Unregister(_ context.Context, l *Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.entries[l.Entry.Sessid]; ok && e.rev == l.revS.Load() {
		delete(m.entries, l.Entry.Sessid)
	}
	return nil
}

func (m *MemRegistry) Lookup(_ context.Context, login string) ([]RegEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []RegEntry
	for _, e := range m.entries {
		if e.e.Login == login {
			out = append(out, e.e)
		}
	}
	return out, nil
}
