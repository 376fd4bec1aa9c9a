package ctrl

import "sync"

// Sessions is this instance's table of sockets: all of them, the logged-in
// ones by sessid, and by login (to ring a user's sockets).
type Sessions struct {
	mu      sync.RWMutex
	all     map[*Session]struct{}
	bySess  map[string]*Session
	byLogin map[string][]*Session
	changed chan struct{} // closed and replaced on every change
}

// NewSessions returns an empty table.
func NewSessions() *Sessions {
	return &Sessions{
		all:     make(map[*Session]struct{}),
		bySess:  make(map[string]*Session),
		byLogin: make(map[string][]*Session),
		changed: make(chan struct{}),
	}
}

// Changed returns a channel closed at the next change of the table.
func (t *Sessions) Changed() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

func (t *Sessions) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Add records a new socket.
func (t *Sessions) Add(s *Session) {
	t.mu.Lock()
	t.all[s] = struct{}{}
	t.notifyLocked()
	t.mu.Unlock()
}

// Bind files a logged-in socket under its sessid and login. It returns the
// socket that held the sessid before, if any (the caller punts it). A
// socket removed already (it closed during its login) is not filed; nor is
// one whose login holds max sockets already (full; max <= 0: no bound),
// unless it takes the place of its own sessid's socket.
func (t *Sessions) Bind(s *Session, sessid, login string, max int) (prev *Session, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.all[s]; !ok {
		return nil, false
	}
	prev = t.bySess[sessid]
	if prev == s {
		prev = nil
	}
	if max > 0 {
		n := len(t.byLogin[login])
		if prev != nil && prev.loginName() == login {
			n-- // replaced
		}
		if n >= max {
			return nil, true
		}
	}
	if prev != nil {
		t.unbindLocked(prev, sessid)
	}
	t.bySess[sessid] = s
	t.byLogin[login] = append(t.byLogin[login], s)
	t.notifyLocked()
	return prev, false
}

// Count returns the number of logged-in sockets of a login.
func (t *Sessions) Count(login string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byLogin[login])
}

// Remove forgets a socket.
func (t *Sessions) Remove(s *Session, sessid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.all, s)
	t.unbindLocked(s, sessid)
	t.notifyLocked()
}

func (t *Sessions) unbindLocked(s *Session, sessid string) {
	if t.bySess[sessid] == s {
		delete(t.bySess, sessid)
	}
	login := s.loginName()
	list := t.byLogin[login]
	for i, x := range list {
		if x == s {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.byLogin, login)
	} else {
		t.byLogin[login] = list
	}
}

// Get returns the logged-in socket with sessid.
func (t *Sessions) Get(sessid string) *Session {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.bySess[sessid]
}

// ByLogin returns the logged-in sockets of a user.
func (t *Sessions) ByLogin(login string) []*Session {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]*Session(nil), t.byLogin[login]...)
}

// All returns every socket.
func (t *Sessions) All() []*Session {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*Session, 0, len(t.all))
	for s := range t.all {
		out = append(out, s)
	}
	return out
}

// Len returns the number of sockets and of logged-in ones.
func (t *Sessions) Len() (all, loggedIn int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.all), len(t.bySess)
}
