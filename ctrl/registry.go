package ctrl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"xccrtc/verto"
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
	// Register records a socket and returns its lease (also on error: the
	// caller may write it again with Refresh).
	Register(ctx context.Context, e RegEntry) (*Lease, error)
	// Refresh (re-)writes leases; it returns those that did not land.
	Refresh(ctx context.Context, leases []*Lease) (failed []*Lease, err error)
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
//
// It survives the NATS behind it: the bucket is kept on file storage when
// JetStream has it (memory otherwise), with the replicas asked for; a
// bucket found missing (a server restarted with memory storage, an operator
// deleting it) is created again by Ensure; Attach moves it to a new
// connection.
type KVRegistry struct {
	b *kvBucket
}

// KVOptions describe a bucket XCtrl keeps in JetStream.
type KVOptions struct {
	Bucket   string
	TTL      time.Duration
	Replicas int
	// Memory keeps the bucket in memory even where JetStream has file
	// storage (a restart of every NATS server then loses it, and XCtrl
	// instances write their records again when they reconnect).
	Memory      bool
	Description string
	Log         *slog.Logger
}

// NewKVRegistry opens the bucket on nc, creating it if needed.
func NewKVRegistry(ctx context.Context, nc *nats.Conn, o KVOptions) (*KVRegistry, error) {
	if o.Description == "" {
		o.Description = "xcc-rtc XCtrl: logged-in Verto sockets"
	}
	b, err := openBucket(ctx, nc, o)
	if err != nil {
		return nil, err
	}
	return &KVRegistry{b: b}, nil
}

// Attach binds the registry to connection nc and makes sure the bucket is
// there.
func (r *KVRegistry) Attach(ctx context.Context, nc *nats.Conn) error { return r.b.Attach(ctx, nc) }

// Ensure opens the bucket, or creates it when it is missing.
func (r *KVRegistry) Ensure(ctx context.Context) error { return r.b.Ensure(ctx) }

func (r *KVRegistry) handles() (jetstream.JetStream, jetstream.KeyValue) { return r.b.handles() }

// kvBucket is a JetStream key-value bucket that follows the connection and
// is created again when it goes missing.
type kvBucket struct {
	opts KVOptions

	mu sync.RWMutex
	js jetstream.JetStream
	kv jetstream.KeyValue
	// direct: reads go to JetStream's direct get API (the bucket has one
	// replica, its leader: see values).
	direct atomic.Bool
}

func openBucket(ctx context.Context, nc *nats.Conn, o KVOptions) (*kvBucket, error) {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	b := &kvBucket{opts: o}
	if err := b.Attach(ctx, nc); err != nil {
		return nil, err
	}
	return b, nil
}

// Attach binds the bucket to connection nc and makes sure it is there.
func (b *kvBucket) Attach(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("ctrl: jetstream: %w", err)
	}
	b.mu.Lock()
	b.js = js
	b.mu.Unlock()
	return b.Ensure(ctx)
}

// bucketAttempt bounds one attempt to open or create a bucket: a cluster
// whose JetStream is not ready yet may leave a request unanswered.
const bucketAttempt = 2 * time.Second

// Ensure opens the bucket, or creates it when it is missing (file storage
// first, memory where JetStream has no file storage). While the cluster
// cannot do it yet (its JetStream still electing, or a member that the
// bucket's replicas need not yet joined) it tries again until ctx ends,
// and then says what the cluster answered last.
func (b *kvBucket) Ensure(ctx context.Context) error {
	var (
		logged time.Time
		said   error // the cluster's last answer: the deadline cutting the last attempt says less
	)
	wait := backoff{100 * time.Millisecond, time.Second}
	for {
		actx, cancel := context.WithTimeout(ctx, bucketAttempt)
		err := b.ensure(actx)
		cancel()
		if err == nil || !notReadyYet(err) {
			return err
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			said = err
		}
		if ctx.Err() == nil && time.Since(logged) >= 5*time.Second {
			logged = time.Now()
			b.opts.Log.Warn("bucket: the cluster cannot serve it yet; waiting", "bucket", b.opts.Bucket,
				"replicas", b.opts.Replicas, "err", err)
		}
		if !wait.sleep(ctx.Done()) {
			if said != nil {
				return said
			}
			return err
		}
	}
}

// notReadyYet reports whether err is the cluster not being ready for a
// bucket yet rather than refusing it: a request left unanswered, JetStream
// electing its leaders, or no peers to place the replicas on (also what
// more replicas than members gets: that one ends at the caller's deadline).
func notReadyYet(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case 10005, // no suitable peers for placement
		10008, // JetStream system temporarily unavailable
		10009: // JetStream cluster can not handle request
		return true
	}
	return false
}

func (b *kvBucket) ensure(ctx context.Context) error {
	b.mu.RLock()
	js := b.js
	b.mu.RUnlock()
	kv, err := js.KeyValue(ctx, b.opts.Bucket)
	if err == nil {
		b.mu.Lock()
		b.kv = kv
		b.mu.Unlock()
		b.direct.Store(false)
		if st, err := kv.Status(ctx); err == nil {
			if kst, ok := st.(*jetstream.KeyValueBucketStatus); ok {
				cfg := kst.StreamInfo().Config
				b.direct.Store(cfg.Replicas <= 1 && cfg.AllowDirect)
			}
		}
		return nil
	}
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("ctrl: bucket %s: %w", b.opts.Bucket, err)
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      b.opts.Bucket,
		Description: b.opts.Description,
		TTL:         b.opts.TTL,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    b.opts.Replicas,
	}
	if b.opts.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if err != nil && cfg.Storage == jetstream.FileStorage && noFileStorage(err) {
		b.opts.Log.Warn("no file storage for the bucket, using memory", "bucket", b.opts.Bucket, "err", err)
		cfg.Storage = jetstream.MemoryStorage
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if errors.Is(err, jetstream.ErrBucketExists) {
		// Another instance created it meanwhile.
		kv, err = js.KeyValue(ctx, b.opts.Bucket)
	}
	if err != nil {
		return fmt.Errorf("ctrl: bucket %s: %w", b.opts.Bucket, err)
	}
	b.opts.Log.Info("bucket created", "bucket", b.opts.Bucket, "storage", cfg.Storage.String(), "replicas", cfg.Replicas)
	b.mu.Lock()
	b.kv = kv
	b.mu.Unlock()
	b.direct.Store(cfg.Replicas <= 1) // CreateKeyValue allows direct gets
	return nil
}

// reopen makes sure the bucket is usable after the bus came back: on a new
// connection (fresh) or the same one reconnected (the server may have
// restarted without it).
func (b *kvBucket) reopen(ctx context.Context, nc *nats.Conn, fresh bool) error {
	if fresh {
		return b.Attach(ctx, nc)
	}
	return b.Ensure(ctx)
}

func (b *kvBucket) handles() (jetstream.JetStream, jetstream.KeyValue) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.js, b.kv
}

// values returns the current values of the keys matching pattern (deleted
// keys left out), one message a request, from the bucket's leader. In a
// cluster they are read with the stream's message-get API
// ($JS.API.STREAM.MSG.GET, next_by_subj), which only the stream's leader
// answers. A KV watch would not do: its ordered consumer is placed on any
// replica, also on one that restarted and is still catching up, which
// answers without the keys written while it was down (found by the chaos
// suite: after a killed NATS member came back, one lookup in eight missed
// sockets for two seconds, and calls to those users failed
// USER_NOT_REGISTERED). Direct gets would not do either: any replica 90%
// caught up answers them. No consumer is created, so a lookup costs no
// proposal in the cluster's meta group.
//
// A bucket with one replica has no other copy than its leader: it is read
// with the direct get API ($JS.API.DIRECT.GET, the same next_by_subj
// request), which answers with the stored message itself instead of a JSON
// document (a third of the cost; a login reads the call book this way).
func (b *kvBucket) values(ctx context.Context, pattern string) ([][]byte, error) {
	js, _ := b.handles()
	prefix := js.Options().APIPrefix // set by NewWithAPIPrefix only
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	direct := b.direct.Load()
	subject := prefix + "STREAM.MSG.GET.KV_" + b.opts.Bucket
	if direct {
		subject = prefix + "DIRECT.GET.KV_" + b.opts.Bucket
	}
	filter := "$KV." + b.opts.Bucket + "." + pattern
	var out [][]byte
	for seq := uint64(0); ; {
		req, _ := json.Marshal(struct {
			Seq     uint64 `json:"seq,omitempty"`
			NextFor string `json:"next_by_subj"`
		}{seq, filter})
		msg, err := js.Conn().RequestWithContext(ctx, subject, req)
		if err != nil {
			return out, err
		}
		var m storedMsg
		if direct {
			err = m.fromDirect(msg)
		} else {
			err = m.fromMsgGet(msg)
		}
		switch {
		case errors.Is(err, errPastLast):
			return out, nil
		case err != nil:
			return out, fmt.Errorf("ctrl: bucket %s: %w", b.opts.Bucket, err)
		}
		if !m.deleted {
			out = append(out, m.data)
		}
		seq = m.seq + 1
	}
}

// errPastLast: no message matches past the sequence asked for.
var errPastLast = errors.New("no more messages")

// storedMsg is a message read from a stream.
type storedMsg struct {
	seq     uint64
	data    []byte
	deleted bool // a KV delete or purge marker
}

// fromMsgGet reads a $JS.API.STREAM.MSG.GET answer.
func (m *storedMsg) fromMsgGet(msg *nats.Msg) error {
	var resp struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Seq    uint64 `json:"seq"`
			Header []byte `json:"hdrs"`
			Data   []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return err
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return errPastLast
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound:
		return jetstream.ErrBucketNotFound
	case resp.Error != nil:
		return resp.Error
	case resp.Message == nil:
		return errors.New("empty answer")
	}
	m.seq, m.data, m.deleted = resp.Message.Seq, resp.Message.Data, kvDeleted(resp.Message.Header)
	return nil
}

// fromDirect reads a $JS.API.DIRECT.GET answer: the message with its
// headers, or a status.
func (m *storedMsg) fromDirect(msg *nats.Msg) error {
	switch st := msg.Header.Get("Status"); st {
	case "":
	case "404":
		return errPastLast
	default:
		return fmt.Errorf("direct get: %s %s", st, msg.Header.Get("Description"))
	}
	seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return fmt.Errorf("direct get: sequence %q", msg.Header.Get(jetstream.SequenceHeader))
	}
	m.seq, m.data, m.deleted = seq, msg.Data, kvRemoval(msg.Header.Get(kvOperation))
	return nil
}

// The header of a KV delete or purge marker, as the KV API writes them.
const (
	kvOperation = "KV-Operation"
	kvOpDelete  = "DEL"
	kvOpPurge   = "PURGE"
)

// kvRemoval: a KV-Operation value that marks a removed key.
func kvRemoval(op string) bool { return op == kvOpDelete || op == kvOpPurge }

// kvDeleted reports whether a stored message's headers mark a deleted key
// (KV-Operation: DEL or PURGE).
func kvDeleted(hdr []byte) bool {
	for _, line := range strings.Split(string(hdr), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), kvOperation) {
			return kvRemoval(strings.TrimSpace(v))
		}
	}
	return false
}

// BucketMissing reports whether err says the bucket (its stream) is gone:
// Ensure then creates it again.
func BucketMissing(err error) bool {
	return errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrNoHeartbeat) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrStreamNotFound) ||
		errors.Is(err, nats.ErrBucketNotFound) || errors.Is(err, nats.ErrNoStreamResponse)
}

func (r *KVRegistry) Owner(ctx context.Context, sessid string) (RegEntry, bool, error) {
	_, kv := r.handles()
	e, err := kv.Get(ctx, sessKey(sessid))
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
	if _, err := r.Refresh(ctx, []*Lease{l}); err != nil {
		return l, err
	}
	return l, nil
}

// Refresh writes both keys of every lease with asynchronous publishes and
// waits for the acknowledgements: one round trip for the whole batch. It
// returns the leases that did not land (with the first error).
func (r *KVRegistry) Refresh(ctx context.Context, leases []*Lease) ([]*Lease, error) {
	msgs := make([]leaseMsg, 0, 2*len(leases))
	for _, l := range leases {
		sv, uv := l.values()
		msgs = append(msgs,
			leaseMsg{l: l, msg: &nats.Msg{Subject: r.subject(sessKey(l.Entry.Sessid)), Data: sv}, rev: &l.revS},
			leaseMsg{l: l, msg: &nats.Msg{Subject: r.subject(userKey(l.Entry.Login, l.Entry.Sessid)), Data: uv}, rev: &l.revU})
	}
	failed, err := r.publish(ctx, msgs, nil)
	if err != nil {
		return failed, fmt.Errorf("ctrl: registry refresh: %d of %d failed, first: %w", len(failed), len(leases), err)
	}
	return nil, nil
}

// UnregisterAll deletes the keys of many leases (those another socket
// wrote since are left alone) with asynchronous publishes: one round trip
// for the whole batch, where Unregister takes one per key. It returns the
// leases that were not deleted (with the first error).
func (r *KVRegistry) UnregisterAll(ctx context.Context, leases []*Lease) ([]*Lease, error) {
	msgs := make([]leaseMsg, 0, 2*len(leases))
	del := func(l *Lease, key string, rev uint64) {
		if rev == 0 {
			return
		}
		m := &nats.Msg{Subject: r.subject(key), Header: nats.Header{}}
		m.Header.Set(kvOperation, kvOpDelete)
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(rev, 10))
		msgs = append(msgs, leaseMsg{l: l, msg: m})
	}
	for _, l := range leases {
		del(l, sessKey(l.Entry.Sessid), l.revS.Load())
		del(l, userKey(l.Entry.Login, l.Entry.Sessid), l.revU.Load())
	}
	failed, err := r.publish(ctx, msgs, isWrongSequence)
	if err != nil {
		return failed, fmt.Errorf("ctrl: registry unregister: %d of %d failed, first: %w", len(failed), len(leases), err)
	}
	return nil, nil
}

// leaseMsg is one message written to the bucket for a lease; rev, when
// set, takes the sequence it was stored at.
type leaseMsg struct {
	l   *Lease
	msg *nats.Msg
	rev *atomic.Uint64
}

// publish writes msgs with asynchronous publishes, waiting for their
// acknowledgements a window at a time, and returns the leases of which a
// message failed, with the first error. An error for which landed is true
// counts as done.
func (r *KVRegistry) publish(ctx context.Context, msgs []leaseMsg, landed func(error) bool) ([]*Lease, error) {
	js, _ := r.handles()
	var (
		failed   []*Lease
		firstErr error
		seen     = map[*Lease]bool{}
		inFlight []jetstream.PubAckFuture
	)
	fail := func(l *Lease, err error) {
		if landed != nil && landed(err) {
			return
		}
		if firstErr == nil {
			firstErr = err
		}
		if !seen[l] {
			seen[l] = true
			failed = append(failed, l)
		}
	}
	const window = 512
	for i := 0; i < len(msgs); i += window {
		batch := msgs[i:min(i+window, len(msgs))]
		inFlight = inFlight[:0]
		for _, m := range batch {
			f, err := js.PublishMsgAsync(m.msg)
			if err != nil {
				fail(m.l, err)
			}
			inFlight = append(inFlight, f) // nil when the publish failed
		}
		for j, f := range inFlight {
			if f == nil {
				continue
			}
			m := batch[j]
			select {
			case ack := <-f.Ok():
				if m.rev != nil {
					m.rev.Store(ack.Sequence)
				}
			case err := <-f.Err():
				fail(m.l, err)
			case <-ctx.Done():
				fail(m.l, ctx.Err())
			}
		}
	}
	return failed, firstErr
}

func (r *KVRegistry) subject(key string) string { return "$KV." + r.b.opts.Bucket + "." + key }

// values are the lease's s.<sessid> and u.<login>.<sessid> values.
func (l *Lease) values() (sv, uv []byte) {
	// Written out by hand: encoding/json's reflection was a twentieth of
	// a login's CPU. The same JSON (RegEntry's tags), read with it.
	e := &l.Entry
	sv = make([]byte, 0, 32+len(e.CtrlUUID)+len(e.Login))
	sv = append(sv, `{"ctrl_uuid":`...)
	sv = verto.AppendString(sv, e.CtrlUUID)
	sv = append(sv, `,"login":`...)
	sv = verto.AppendString(sv, e.Login)
	sv = append(sv, '}')
	uv = make([]byte, 0, 44+len(e.CtrlUUID)+len(e.Sessid)+len(e.Login))
	uv = append(uv, `{"ctrl_uuid":`...)
	uv = verto.AppendString(uv, e.CtrlUUID)
	uv = append(uv, `,"sessid":`...)
	uv = verto.AppendString(uv, e.Sessid)
	uv = append(uv, `,"login":`...)
	uv = verto.AppendString(uv, e.Login)
	return sv, append(uv, '}')
}

// Claim registers a new socket's lease and says which socket held its
// sessid (held, prev). When another login holds it, the lease is not
// registered (nothing of it stays written): the caller refuses the login.
//
// One round trip in the common case: s.<sessid> is created only if it has
// never been written (or was removed by the TTL), and u.<login>.<sessid> is
// written with it. Only when the create fails is the holder read (and
// s.<sessid> written over when it is the same login, or a deleted key).
func (r *KVRegistry) Claim(ctx context.Context, l *Lease) (prev RegEntry, held bool, err error) {
	js, kv := r.handles()
	sv, uv := l.values()
	sKey := sessKey(l.Entry.Sessid)
	create := &nats.Msg{Subject: r.subject(sKey), Data: sv,
		Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{"0"}}}
	a1, err := js.PublishMsgAsync(create)
	if err != nil {
		return prev, false, err
	}
	a2, err := js.PublishAsync(r.subject(userKey(l.Entry.Login, l.Entry.Sessid)), uv)
	if err != nil {
		return prev, false, err
	}
	created, err1 := awaitAck(ctx, a1)
	if err := func() error {
		ack, err := awaitAck(ctx, a2)
		if err == nil {
			l.revU.Store(ack)
		}
		return err
	}(); err != nil {
		return prev, false, err
	}
	switch {
	case err1 == nil:
		l.revS.Store(created)
		return prev, false, nil
	case !isWrongSequence(err1):
		return prev, false, err1
	}
	// Written before: read who holds it.
	e, err := kv.Get(ctx, sKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		// Deleted (its socket closed): free.
	case err != nil:
		return prev, false, err
	default:
		if err := json.Unmarshal(e.Value(), &prev); err != nil {
			return prev, false, fmt.Errorf("ctrl: registry entry %s: %w", e.Key(), err)
		}
		prev.Sessid, held = l.Entry.Sessid, true
		if prev.Login != l.Entry.Login {
			// Not ours to take: take back the user key written with it.
			if rev := l.revU.Swap(0); rev != 0 {
				if err := kv.Delete(ctx, userKey(l.Entry.Login, l.Entry.Sessid), jetstream.LastRevision(rev)); err != nil && !isWrongSequence(err) {
					return prev, true, err
				}
			}
			return prev, true, nil
		}
	}
	rev, err := kv.Put(ctx, sKey, sv)
	if err != nil {
		return prev, held, err
	}
	l.revS.Store(rev)
	return prev, held, nil
}

// awaitAck waits for a publish's acknowledgement and returns its sequence.
func awaitAck(ctx context.Context, f jetstream.PubAckFuture) (uint64, error) {
	select {
	case ack := <-f.Ok():
		return ack.Sequence, nil
	case err := <-f.Err():
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (r *KVRegistry) Unregister(ctx context.Context, l *Lease) error {
	_, err := r.UnregisterAll(ctx, []*Lease{l})
	return err
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

// Lookup reads the current values of u.<login>.* from the stream's leader;
// a user without sockets is answered at once.
func (r *KVRegistry) Lookup(ctx context.Context, login string) ([]RegEntry, error) {
	values, err := r.b.values(ctx, userPrefix(login)+"*")
	var out []RegEntry
	for _, v := range values {
		var re RegEntry
		if json.Unmarshal(v, &re) == nil && re.CtrlUUID != "" {
			out = append(out, re)
		}
	}
	return out, err
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
	_, err := m.Refresh(ctx, []*Lease{l})
	return l, err
}

func (m *MemRegistry) Refresh(_ context.Context, leases []*Lease) ([]*Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range leases {
		m.rev++
		m.entries[l.Entry.Sessid] = memEntry{e: l.Entry, rev: m.rev}
		l.revS.Store(m.rev)
		l.revU.Store(m.rev)
	}
	return nil, nil
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

// noFileStorage reports whether a create failed because JetStream has no
// (or not enough) file storage: only then does a bucket go to memory. Any
// other failure (a cluster that cannot place the replicas yet) is an error
// the caller retries: a bucket silently kept in memory would be lost with
// the servers.
func noFileStorage(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case 10023, // insufficient resources
		10047: // storage resources exceeded
		return true
	}
	return false
}
