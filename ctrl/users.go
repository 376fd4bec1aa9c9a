package ctrl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xccrtc/conf"
	"xccrtc/verto"
)

// UserStore finds the users of password logins, and the directory data of
// token logins: the FreeSWITCH directory files read by XCtrl
// (DirectoryStore), FreeSWITCH itself asked over NATS (NodeStore), or a map
// (MapStore, tests).
type UserStore interface {
	// LookupUser finds q.ID@q.Domain as FreeSWITCH finds a user for
	// mod_verto. With q.Password it also checks the password as mod_verto
	// does. Errors wrap ErrUnknownUser, ErrBadPassword or ErrUserLookup.
	LookupUser(ctx context.Context, q UserQuery) (*conf.User, error)
}

// UserQuery is one user lookup.
type UserQuery struct {
	// ID and Domain are the login's user and domain as mod_verto derives
	// them (chop-domain, force-register-domain, or the default domain).
	ID, Domain string
	// Password, when not "", is checked.
	Password string
	// LoginParams are the client's loginParams as mod_verto hands them to
	// the directory (strings; tokens left out).
	LoginParams map[string]string
}

// Errors of a user lookup.
var (
	// ErrUnknownUser: the directory has no such user.
	ErrUnknownUser = errors.New("ctrl: no such user")
	// ErrBadPassword: the user exists and the password does not match.
	ErrBadPassword = errors.New("ctrl: wrong password")
	// ErrUserLookup: the lookup could not be made (no node up, a timeout,
	// a node without user lookup): not the client's fault.
	ErrUserLookup = errors.New("ctrl: user lookup failed")
)

// Reloader is a UserStore that can read its users again (SIGHUP).
type Reloader interface {
	Reload() error
}

// check finishes a lookup in a local store: the user, or why not.
func check(u *conf.User, found bool, q UserQuery) (*conf.User, error) {
	switch {
	case !found:
		return nil, fmt.Errorf("%w: %s@%s", ErrUnknownUser, q.ID, q.Domain)
	case q.Password != "" && !u.CheckPassword(q.ID, q.Domain, q.Password):
		return nil, fmt.Errorf("%w: %s@%s", ErrBadPassword, q.ID, q.Domain)
	}
	return u, nil
}

// DirectoryStore is a UserStore on a FreeSWITCH directory XCtrl read
// itself; Reload reads it again and keeps the old one when the new one has
// errors.
type DirectoryStore struct {
	dir  atomic.Pointer[conf.Directory]
	load func() (*conf.Directory, error) // nil: no Reload
}

// NewDirectoryStore serves dir; load, if not nil, reads it again for Reload.
func NewDirectoryStore(dir *conf.Directory, load func() (*conf.Directory, error)) *DirectoryStore {
	s := &DirectoryStore{load: load}
	s.dir.Store(dir)
	return s
}

// Directory is the directory in use.
func (s *DirectoryStore) Directory() *conf.Directory { return s.dir.Load() }

// LookupUser implements UserStore.
func (s *DirectoryStore) LookupUser(_ context.Context, q UserQuery) (*conf.User, error) {
	u, ok := s.dir.Load().Lookup(q.ID, q.Domain)
	return check(u, ok, q)
}

// Reload reads the directory again; on an error the old one stays.
func (s *DirectoryStore) Reload() error {
	if s.load == nil {
		return nil
	}
	d, err := s.load()
	if err != nil {
		return err
	}
	s.dir.Store(d)
	return nil
}

// MapStore is an in-memory UserStore keyed by "id@domain" (lower-cased).
type MapStore map[string]*conf.User

// LookupUser implements UserStore (ids and domains case-insensitive).
func (m MapStore) LookupUser(_ context.Context, q UserQuery) (*conf.User, error) {
	u, ok := m[strings.ToLower(q.ID+"@"+q.Domain)]
	return check(u, ok, q)
}

// Add stores a user as FreeSWITCH's stock directory makes one: a password
// param, and jsonrpc-allowed-methods=verto (which the stock directory gives
// its domain) unless params set it; params add to (or replace) them.
func (m MapStore) Add(id, domain, password string, params map[string]string) *conf.User {
	u := &conf.User{ID: id, Domain: domain, Variables: map[string]string{}}
	if password != "" {
		u.Params = append(u.Params, conf.Pair{Name: conf.ParamPassword, Value: password})
	}
	if _, ok := params[conf.ParamAllowedMethods]; !ok {
		u.Params = append(u.Params, conf.Pair{Name: conf.ParamAllowedMethods, Value: "verto"})
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		u.Params = append(u.Params, conf.Pair{Name: k, Value: params[k]})
	}
	m[strings.ToLower(id+"@"+domain)] = u
	return u
}

// loadDirectory reads the directory the configuration names and logs every
// problem with its file and line. A directory with errors is refused.
func loadDirectory(cfg Config, log *slog.Logger) (*conf.Directory, error) {
	o := conf.DirectoryOptions{Vars: cfg.FSVars}
	var (
		d    *conf.Directory
		err  error
		from = cfg.DirectoryFile
	)
	if cfg.FSConfDir != "" {
		from = cfg.FSConfDir
		d, err = conf.LoadFreeSWITCH(cfg.FSConfDir, o)
	} else {
		d, err = conf.LoadDirectory(cfg.DirectoryFile, o)
	}
	if err != nil {
		return nil, fmt.Errorf("ctrl: directory: %w", err)
	}
	ps := d.Problems()
	for _, p := range ps {
		if p.Severity == conf.SeverityError {
			log.Error("directory", "problem", p.String())
		} else {
			log.Warn("directory", "problem", p.String())
		}
	}
	if errs := ps.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("ctrl: directory %s: %d error(s), first: %s", from, len(errs), errs[0])
	}
	log.Info("directory loaded", "from", from, "files", len(d.Files), "domains", len(d.Domains), "users", d.UserCount(),
		"warnings", len(ps))
	if weak := d.UsersWithPassword(conf.StockPassword); len(weak) > 0 {
		// XCtrl faces the internet, and the stock config is public.
		log.Warn("users log in with FreeSWITCH's stock default_password: anyone can log in as them; set default_password in vars.xml, or their password params",
			"password", conf.StockPassword, "users", len(weak), "first", weak[:min(len(weak), 5)])
	}
	return d, nil
}

// NodeStore asks a FreeSWITCH node over NATS (xrtc.lookupUser on the
// any-node queue subject), so that the switch's own directory, whatever
// its backend, serves the logins. Positive answers are kept for a short
// while, without credentials, for token logins; a password is checked by
// the node every time (only its digest travels) and never kept.
type NodeStore struct {
	srv *Server

	mu    sync.Mutex
	cache map[string]nodeAnswer
	slots chan struct{} // bounds the lookups in flight
}

type nodeAnswer struct {
	user *conf.User
	at   time.Time
}

// maxLookups bounds the node lookups one XCtrl has in flight: a login
// flood must not become a flood of directory queries.
const maxLookups = 64

func newNodeStore(srv *Server) *NodeStore {
	return &NodeStore{srv: srv, cache: map[string]nodeAnswer{}, slots: make(chan struct{}, maxLookups)}
}

// Reload drops the cached answers.
func (n *NodeStore) Reload() error {
	n.mu.Lock()
	clear(n.cache)
	n.mu.Unlock()
	return nil
}

// LookupUser implements UserStore.
func (n *NodeStore) LookupUser(ctx context.Context, q UserQuery) (*conf.User, error) {
	srv := n.srv
	key := strings.ToLower(q.ID + "@" + q.Domain)
	now := time.Now()
	if q.Password == "" {
		n.mu.Lock()
		a, ok := n.cache[key]
		if ok && now.Sub(a.at) >= srv.cfg.Timers.UserCache {
			delete(n.cache, key)
			ok = false
		}
		n.mu.Unlock()
		if ok {
			return a.user, nil
		}
	}
	if srv.reqs == nil || len(srv.nodes.Live(now)) == 0 {
		return nil, fmt.Errorf("%w: no FreeSWITCH node is up to look %s@%s up", ErrUserLookup, q.ID, q.Domain)
	}
	select {
	case n.slots <- struct{}{}:
		defer func() { <-n.slots }()
	default:
		return nil, fmt.Errorf("%w: %d lookups already in flight", ErrUserLookup, maxLookups)
	}
	p := verto.LookupUserParams{CtrlUUID: srv.uuid, ID: q.ID, Domain: q.Domain, LoginParams: q.LoginParams}
	if q.Password != "" {
		p.A1 = conf.A1Hash(q.ID, q.Domain, q.Password)
	}
	id := srv.reqs.NextID()
	m, err := verto.NewRequest(verto.StringID(strconv.FormatUint(id, 10)), verto.MethodXrtcLookupUser, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUserLookup, err)
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUserLookup, err)
	}
	timeout := srv.cfg.Timers.UserLookup
	reply, err := srv.reqs.Do(ctx, srv.subj.AnyNode(), id, b, timeout)
	switch {
	case errors.Is(err, ErrTimeout):
		return nil, fmt.Errorf("%w: no node answered in %v", ErrUserLookup, timeout)
	case errors.Is(err, ErrNoResponders):
		return nil, fmt.Errorf("%w: no node listens on %s", ErrUserLookup, srv.subj.AnyNode())
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrUserLookup, err)
	}
	rm, err := verto.DecodeMessage(reply.Data, verto.Limits{})
	if err != nil {
		return nil, fmt.Errorf("%w: node reply: %v", ErrUserLookup, err)
	}
	if rm.Error != nil {
		if rm.Error.Code == verto.CodeMethodNotFound {
			return nil, fmt.Errorf("%w: the node cannot look users up (%s): a FreeSWITCH with mod_xrtc is needed", ErrUserLookup, rm.Error.Message)
		}
		return nil, fmt.Errorf("%w: node: %s", ErrUserLookup, rm.Error.Message)
	}
	var res verto.LookupUserResult
	if err := rm.DecodeResult(&res); err != nil {
		return nil, fmt.Errorf("%w: node result: %v", ErrUserLookup, err)
	}
	switch res.Verdict {
	case verto.LookupOK:
		if res.User == nil {
			return nil, fmt.Errorf("%w: node %s: verdict ok without a user", ErrUserLookup, res.NodeUUID)
		}
		u := conf.UserFromWire(res.User)
		n.remember(key, u)
		return u, nil
	case verto.LookupNotFound:
		n.forget(key)
		return nil, fmt.Errorf("%w: %s@%s (node %s)", ErrUnknownUser, q.ID, q.Domain, res.NodeUUID)
	case verto.LookupBadPassword:
		return nil, fmt.Errorf("%w: %s@%s (node %s)", ErrBadPassword, q.ID, q.Domain, res.NodeUUID)
	}
	return nil, fmt.Errorf("%w: node %s: unknown verdict %q", ErrUserLookup, res.NodeUUID, res.Verdict)
}

// maxCached bounds the cache: past it, expired answers go, and if that is
// not enough, all of them.
const maxCached = 10000

func (n *NodeStore) remember(key string, u *conf.User) {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.cache) >= maxCached {
		for k, a := range n.cache {
			if now.Sub(a.at) >= n.srv.cfg.Timers.UserCache {
				delete(n.cache, k)
			}
		}
		if len(n.cache) >= maxCached {
			clear(n.cache)
		}
	}
	n.cache[key] = nodeAnswer{user: u, at: now}
}

func (n *NodeStore) forget(key string) {
	n.mu.Lock()
	delete(n.cache, key)
	n.mu.Unlock()
}
