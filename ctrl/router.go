package ctrl

import (
	"slices"
	"sync"
)

// callState is where a call stands, as seen from this instance.
type callState int

const (
	stateTrying   callState = iota // invite sent to a node, no result yet
	stateCreated                   // the node created the call
	stateRinging                   // a node's invite rings local sockets
	stateAnswered                  // answered (or re-attached)
)

var callStateNames = [...]string{"trying", "created", "ringing", "answered"}

func (s callState) String() string { return callStateNames[s] }

// Router holds this instance's routing state: callID -> node (with the
// local sockets that ring or hold the call), destination -> node while the
// destination has calls here (conference stickiness), and conference event
// channel -> node.
type Router struct {
	mu    sync.Mutex
	calls map[string]*call
	dests map[string]*destRoute
	chans map[string]*destRoute
	// pairs counts, per socket and node, the established calls (created
	// or answered) of the socket on the node; onPair hears when a pair
	// gets its first call or loses its last (not when its socket closes:
	// the calls live on, detached). onPair runs under the router's lock.
	pairs  map[sockNode]int
	onPair func(s *Session, node string, put bool)
	// owned counts the calls of each login: those it placed here and
	// those its sockets answered or took back (verto.attach), while they
	// are mapped.
	owned map[string]int
}

type sockNode struct {
	s    *Session
	node string
}

type call struct {
	node   string
	dest   string // destination key of a call placed by a local client
	state  callState
	socks  []*Session
	booked map[*Session]bool // sockets counted in Router.pairs
	owner  string            // the login in whose Router.owned the call counts
}

type destRoute struct {
	node string
	refs int
}

// released is a call that left the map, with the sockets that held it.
type released struct {
	callID string
	node   string
	socks  []*Session
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{
		calls: make(map[string]*call),
		dests: make(map[string]*destRoute),
		chans: make(map[string]*destRoute),
		pairs: make(map[sockNode]int),
		owned: make(map[string]int),
	}
}

// placeResult is what Place did.
type placeResult int

const (
	placed        placeResult = iota
	placedAlready             // the callID is mapped already
	placeTooMany              // the owner holds max calls already
)

// Place records a new call from socket s to dest on node, one of owner's
// calls. Nothing changes when the callID is mapped already, or when owner
// holds max calls (max <= 0: no bound).
func (r *Router) Place(callID, node, dest string, s *Session, owner string, max int) placeResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.calls[callID]; ok {
		return placedAlready
	}
	if max > 0 && owner != "" && r.owned[owner] >= max {
		return placeTooMany
	}
	c := &call{node: node, dest: dest, state: stateTrying}
	r.calls[callID] = c
	r.own(c, owner)
	r.addSock(c, callID, s)
	if dest != "" {
		d := r.dests[dest]
		if d == nil {
			d = &destRoute{node: node}
			r.dests[dest] = d
		}
		d.refs++
	}
	return placed
}

// own counts call c as one of owner's, unless it counts for someone
// already. Call with r.mu held.
func (r *Router) own(c *call, owner string) {
	if c.owner != "" || owner == "" {
		return
	}
	c.owner = owner
	r.owned[owner]++
}

// Hold records that socket s rings (a node's invite) or holds (re-attach) a
// call on node. A call answered or taken back counts as one of the
// socket's login's calls.
func (r *Router) Hold(callID, node string, s *Session, st callState) {
	owner := ""
	if st == stateAnswered && s != nil {
		owner = s.loginName() // before r.mu: the router never waits on a socket under its lock
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[callID]
	if !ok {
		c = &call{node: node}
		r.calls[callID] = c
	} else if c.node != node {
		// The call lives on another node now (recovered by a node that
		// restarted under a new node_uuid): its pairs move there.
		for bs := range c.booked {
			r.unbookLocked(c, bs, true)
		}
	}
	c.node, c.state = node, st
	r.own(c, owner)
	r.addSock(c, callID, s)
	if st >= stateCreated && st != stateRinging {
		r.bookLocked(c)
	}
}

// bookLocked counts the call's sockets in pairs (the call is established).
func (r *Router) bookLocked(c *call) {
	for _, s := range c.socks {
		if c.booked[s] {
			continue
		}
		if c.booked == nil {
			c.booked = make(map[*Session]bool, 1)
		}
		c.booked[s] = true
		k := sockNode{s, c.node}
		r.pairs[k]++
		if r.pairs[k] == 1 && r.onPair != nil {
			r.onPair(s, c.node, true)
		}
	}
}

// unbookLocked takes socket s of call c out of pairs; tell says whether the
// book hears of a pair that lost its last call.
func (r *Router) unbookLocked(c *call, s *Session, tell bool) {
	if !c.booked[s] {
		return
	}
	delete(c.booked, s)
	k := sockNode{s, c.node}
	if r.pairs[k]--; r.pairs[k] <= 0 {
		delete(r.pairs, k)
		if tell && r.onPair != nil {
			r.onPair(s, c.node, false)
		}
	}
}

// Pairs returns the sockets with established calls and their nodes.
func (r *Router) Pairs() []sockNode {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]sockNode, 0, len(r.pairs))
	for k := range r.pairs {
		out = append(out, k)
	}
	return out
}

func (r *Router) addSock(c *call, callID string, s *Session) {
	if s == nil {
		return
	}
	for _, x := range c.socks {
		if x == s {
			return
		}
	}
	c.socks = append(c.socks, s)
	if s.calls == nil {
		s.calls = make(map[string]struct{}, 1)
	}
	s.calls[callID] = struct{}{}
}

// Node returns the node of a call.
func (r *Router) Node(callID string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[callID]
	if !ok {
		return "", false
	}
	return c.node, true
}

// Sockets returns the local sockets that ring or hold a call.
func (r *Router) Sockets(callID string) []*Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[callID]
	if !ok {
		return nil
	}
	return append([]*Session(nil), c.socks...)
}

// SetState moves a call to st.
func (r *Router) SetState(callID string, st callState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.calls[callID]; ok {
		c.state = st
		if st >= stateCreated && st != stateRinging {
			r.bookLocked(c)
		}
	}
}

// Drop removes socket s from a call (it lost the race, or hung up its leg);
// the call leaves the map when no local socket is left on it.
func (r *Router) Drop(callID string, s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[callID]
	if !ok {
		return
	}
	r.dropSock(c, callID, s, true)
}

// dropSock takes s off call c; tell: the pair's book entry may go (false
// when the socket closed: its calls live on, detached).
func (r *Router) dropSock(c *call, callID string, s *Session, tell bool) {
	r.unbookLocked(c, s, tell)
	for i, x := range c.socks {
		if x == s {
			c.socks = append(c.socks[:i], c.socks[i+1:]...)
			break
		}
	}
	delete(s.calls, callID)
	if len(c.socks) == 0 {
		r.releaseLocked(callID, c)
	}
}

// Release removes a call (it ended) and returns the sockets that held it.
func (r *Router) Release(callID string) (released, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[callID]
	if !ok {
		return released{}, false
	}
	socks := append([]*Session(nil), c.socks...)
	r.releaseLocked(callID, c)
	return released{callID: callID, node: c.node, socks: socks}, true
}

func (r *Router) releaseLocked(callID string, c *call) {
	delete(r.calls, callID)
	if c.owner != "" {
		if r.owned[c.owner]--; r.owned[c.owner] <= 0 {
			delete(r.owned, c.owner)
		}
	}
	for _, s := range c.socks {
		r.unbookLocked(c, s, true)
		delete(s.calls, callID)
	}
	if c.dest != "" {
		if d := r.dests[c.dest]; d != nil {
			if d.refs--; d.refs <= 0 {
				delete(r.dests, c.dest)
			}
		}
	}
}

// ReleaseNode removes every call and event channel of a node that is gone.
func (r *Router) ReleaseNode(node string) []released {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []released
	for id, c := range r.calls {
		if c.node != node {
			continue
		}
		out = append(out, released{callID: id, node: node, socks: append([]*Session(nil), c.socks...)})
		r.releaseLocked(id, c)
	}
	for ch, d := range r.chans {
		if d.node == node {
			delete(r.chans, ch)
		}
	}
	return out
}

// SessionClosed takes a closed socket off every call and channel; calls
// left without a local socket leave the map (the node keeps them for a
// re-attach, which maps them again wherever the client comes back).
func (r *Router) SessionClosed(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range s.calls {
		if c, ok := r.calls[id]; ok {
			r.dropSock(c, id, s, false)
		}
	}
	s.calls = nil
	for _, ch := range s.chans {
		r.unrefChannel(ch)
	}
	s.chans = nil
}

// Sticky returns the node that holds calls to dest placed through this
// instance.
func (r *Router) Sticky(dest string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.dests[dest]
	if !ok {
		return "", false
	}
	return d.node, true
}

// JoinChannels records conference event channels on node for socket s (a
// conference-liveArray-join event).
func (r *Router) JoinChannels(node string, s *Session, chans []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range chans {
		d := r.chans[ch]
		if d == nil {
			d = &destRoute{}
			r.chans[ch] = d
		}
		d.node = node
		d.refs++
		s.chans = append(s.chans, ch)
	}
}

// PartChannels undoes JoinChannels (conference-liveArray-part).
func (r *Router) PartChannels(s *Session, chans []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range chans {
		for i, x := range s.chans {
			if x == ch {
				s.chans = append(s.chans[:i], s.chans[i+1:]...)
				r.unrefChannel(ch)
				break
			}
		}
	}
}

func (r *Router) unrefChannel(ch string) {
	if d := r.chans[ch]; d != nil {
		if d.refs--; d.refs <= 0 {
			delete(r.chans, ch)
		}
	}
}

// ChannelNode returns the node that owns an event channel.
func (r *Router) ChannelNode(ch string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.chans[ch]
	if !ok {
		return "", false
	}
	return d.node, true
}

// Counts returns the number of calls in each state.
func (r *Router) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(callStateNames))
	for _, n := range callStateNames {
		m[n] = 0
	}
	for _, c := range r.calls {
		m[c.state.String()]++
	}
	return m
}

// Len is the number of mapped calls.
func (r *Router) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Move re-places a call that was not created yet on another node (its
// invite found nobody on the first one).
func (r *Router) Move(callID, node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[callID]
	if !ok {
		return
	}
	if d := r.dests[c.dest]; d != nil && d.node == c.node {
		d.node = node
	}
	for s := range c.booked {
		r.unbookLocked(c, s, true)
	}
	c.node = node
}

// OnNode returns the calls mapped to a node, with their sockets and state.
func (r *Router) OnNode(node string) []mappedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mappedCall
	for id, c := range r.calls {
		if c.node == node {
			out = append(out, mappedCall{callID: id, state: c.state, socks: append([]*Session(nil), c.socks...)})
		}
	}
	return out
}

// mappedCall is a call of OnNode.
type mappedCall struct {
	callID string
	state  callState
	socks  []*Session
}

// NodesOf returns the nodes of the calls a socket rings or holds.
func (r *Router) NodesOf(s *Session) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range s.calls {
		if c, ok := r.calls[id]; ok && !slices.Contains(out, c.node) {
			out = append(out, c.node)
		}
	}
	return out
}
