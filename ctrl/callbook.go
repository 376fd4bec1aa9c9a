package ctrl

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// CallBook says which nodes hold calls of a sessid, so that a login (a page
// reload, a client coming back after its XCtrl died) asks only those nodes
// to re-attach its calls, instead of every node: a sessid with no call
// reaches no node, and logging in costs the same with 50 nodes as with one.
// It lives in NATS (a key-value bucket, <sessid>.<node> keys), written by
// the XCtrl that placed or answered the call and kept while the call lives.
// Its TTL must outlast the nodes' detach-timeout-sec: a client whose XCtrl
// died must still find its detached calls from another instance.
type CallBook interface {
	// Put records that sessid has calls on node.
	Put(ctx context.Context, sessid, node string) error
	// Delete forgets it (the sessid's last call on node ended).
	Delete(ctx context.Context, sessid, node string) error
	// Nodes lists the nodes holding calls of sessid.
	Nodes(ctx context.Context, sessid string) ([]string, error)
}

// bookKey is the key of a (sessid, node) pair.
func bookKey(sessid, node string) string { return EncodeKey(sessid) + "." + EncodeKey(node) }

// KVCallBook is the CallBook in a JetStream key-value bucket.
type KVCallBook struct {
	b *kvBucket
}

// NewKVCallBook opens (or creates) the bucket.
func NewKVCallBook(ctx context.Context, nc *nats.Conn, o KVOptions) (*KVCallBook, error) {
	if o.Description == "" {
		o.Description = "xcc-rtc XCtrl: nodes holding calls of each Verto session"
	}
	b, err := openBucket(ctx, nc, o)
	if err != nil {
		return nil, err
	}
	return &KVCallBook{b: b}, nil
}

// Attach follows a new connection.
func (k *KVCallBook) Attach(ctx context.Context, nc *nats.Conn) error { return k.b.Attach(ctx, nc) }

// Ensure re-creates a missing bucket.
func (k *KVCallBook) Ensure(ctx context.Context) error { return k.b.Ensure(ctx) }

func (k *KVCallBook) Put(ctx context.Context, sessid, node string) error {
	_, kv := k.b.handles()
	_, err := kv.Put(ctx, bookKey(sessid, node), []byte(node))
	return err
}

func (k *KVCallBook) Delete(ctx context.Context, sessid, node string) error {
	_, kv := k.b.handles()
	err := kv.Delete(ctx, bookKey(sessid, node))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

func (k *KVCallBook) Nodes(ctx context.Context, sessid string) ([]string, error) {
	values, err := k.b.values(ctx, EncodeKey(sessid)+".*")
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, string(v))
	}
	sort.Strings(out)
	return out, err
}

// MemCallBook is an in-process CallBook (tests, a single instance without
// JetStream).
type MemCallBook struct {
	mu    sync.Mutex
	pairs map[string]map[string]bool // sessid -> nodes
}

// NewMemCallBook returns an empty MemCallBook.
func NewMemCallBook() *MemCallBook { return &MemCallBook{pairs: map[string]map[string]bool{}} }

func (m *MemCallBook) Put(_ context.Context, sessid, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pairs[sessid] == nil {
		m.pairs[sessid] = map[string]bool{}
	}
	m.pairs[sessid][node] = true
	return nil
}

func (m *MemCallBook) Delete(_ context.Context, sessid, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pairs[sessid], node)
	if len(m.pairs[sessid]) == 0 {
		delete(m.pairs, sessid)
	}
	return nil
}

func (m *MemCallBook) Nodes(_ context.Context, sessid string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.pairs[sessid]))
	for n := range m.pairs[sessid] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// bookPair is one (sessid, node) pair this instance keeps in the book.
type bookPair struct{ sessid, node string }

// bookKeeper writes this instance's pairs: at once when a call is
// established, again every refresh while calls live, retried when NATS does
// not take them; a pair goes when its last call ends. A socket that closes
// does not remove its pairs: its answered calls wait on the node for the
// client to come back (anywhere), and the TTL removes what nobody refreshes.
type bookKeeper struct {
	book    CallBook
	log     *slog.Logger
	refresh time.Duration
	pairs   func() []bookPair // the live pairs, from the router

	mu      sync.Mutex
	dirty   map[bookPair]bool // true: put, false: delete
	pending []sockEvent       // from the router, sessid not read yet
	kick    chan struct{}
}

// sockEvent is a pair change the router reports under its lock: the
// socket's sessid is read later, outside it.
type sockEvent struct {
	s    *Session
	node string
	put  bool
}

func newBookKeeper(book CallBook, refresh time.Duration, pairs func() []bookPair, log *slog.Logger) *bookKeeper {
	return &bookKeeper{book: book, log: log, refresh: refresh, pairs: pairs, dirty: map[bookPair]bool{}, kick: make(chan struct{}, 1)}
}

// sockChanged queues a pair change from the router (called under the
// router's lock: it only queues).
func (k *bookKeeper) sockChanged(s *Session, node string, put bool) {
	k.mu.Lock()
	k.pending = append(k.pending, sockEvent{s, node, put})
	k.mu.Unlock()
	k.poke()
}

func (k *bookKeeper) poke() {
	select {
	case k.kick <- struct{}{}:
	default:
	}
}

// Put records a pair (a call was established).
func (k *bookKeeper) Put(sessid, node string) { k.mark(bookPair{sessid, node}, true) }

// Delete forgets a pair (its last call ended).
func (k *bookKeeper) Delete(sessid, node string) { k.mark(bookPair{sessid, node}, false) }

func (k *bookKeeper) mark(p bookPair, put bool) {
	if p.sessid == "" || p.node == "" {
		return
	}
	k.mu.Lock()
	k.dirty[p] = put
	k.mu.Unlock()
	k.poke()
}

// Rewrite marks every live pair to be written again (the bus came back).
func (k *bookKeeper) Rewrite() {
	for _, p := range k.pairs() {
		k.mark(p, true)
	}
}

func (k *bookKeeper) run(ctx context.Context) { syncLoop(ctx, k.refresh, k.kick, k.Rewrite, k.sync) }

func (k *bookKeeper) sync(ctx context.Context) bool {
	k.mu.Lock()
	pending := k.pending
	k.pending = nil
	k.mu.Unlock()
	for _, ev := range pending {
		k.mark(bookPair{ev.s.Sessid(), ev.node}, ev.put)
	}
	k.mu.Lock()
	batch := k.dirty
	k.dirty = map[bookPair]bool{}
	k.mu.Unlock()
	ok := true
	for p, put := range batch {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		var err error
		if put {
			err = k.book.Put(wctx, p.sessid, p.node)
		} else {
			err = k.book.Delete(wctx, p.sessid, p.node)
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return true
			}
			ok = false
			k.mu.Lock()
			if _, newer := k.dirty[p]; !newer {
				k.dirty[p] = put
			}
			k.mu.Unlock()
		}
	}
	if !ok {
		k.log.Warn("call book: writes failed; retrying")
	}
	return ok
}
