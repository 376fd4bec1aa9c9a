package ctrl

import (
	"hash/fnv"
	"slices"
	"sort"
	"sync"
	"time"

	"xccrtc/verto"
)

// NodeTable holds the nodes this instance heard from on the status subject,
// and chooses one for a new call.
type NodeTable struct {
	expiry time.Duration

	mu      sync.RWMutex
	nodes   map[string]*nodeEntry
	changed chan struct{} // closed and replaced on every change
}

type nodeEntry struct {
	node     verto.Node
	lastSeen time.Time
	placed   int // calls this instance sent there since the node's last report
	// suspect is when a request to the node last got "no responders" or
	// timed out with nothing heard since (zero: not suspect). A suspect node
	// takes no new call while another can; a probe reply clears it.
	suspect time.Time
}

// NewNodeTable returns an empty table whose nodes die after expiry without
// a status message.
func NewNodeTable(expiry time.Duration) *NodeTable {
	return &NodeTable{expiry: expiry, nodes: make(map[string]*nodeEntry), changed: make(chan struct{})}
}

// Changed returns a channel closed at the next change of the table.
func (t *NodeTable) Changed() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

func (t *NodeTable) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Update records a NodeRegister or NodeUpdate; it reports whether the node
// is new.
func (t *NodeTable) Update(n verto.Node, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.nodes[n.UUID]
	if !ok {
		e = &nodeEntry{}
		t.nodes[n.UUID] = e
	}
	e.node, e.lastSeen, e.placed = n, now, 0
	t.notifyLocked()
	return !ok
}

// Suspect marks a node whose request got no responders or timed out; it
// reports whether the node was not suspect before.
func (t *NodeTable) Suspect(uuid string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.nodes[uuid]
	if !ok || !e.suspect.IsZero() {
		return false
	}
	e.suspect = now
	t.notifyLocked()
	return true
}

// Answered clears a node's suspicion (a probe or a request got its reply);
// it reports whether the node was suspect.
func (t *NodeTable) Answered(uuid string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.nodes[uuid]
	if !ok || e.suspect.IsZero() {
		return false
	}
	e.suspect = time.Time{}
	t.notifyLocked()
	return true
}

// SuspectFor is how long a node has been suspect (0: it is not).
func (t *NodeTable) SuspectFor(uuid string, now time.Time) time.Duration {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.nodes[uuid]
	if !ok || e.suspect.IsZero() {
		return 0
	}
	return now.Sub(e.suspect)
}

// Suspects returns the uuids of the suspect nodes, sorted.
func (t *NodeTable) Suspects() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []string
	for id, e := range t.nodes {
		if !e.suspect.IsZero() {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Touch counts every node as heard from now: this instance was off the bus,
// so their silence meanwhile says nothing about them.
func (t *NodeTable) Touch(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.nodes {
		e.lastSeen = now
	}
	t.notifyLocked()
}

// Remove forgets a node; it reports whether it was known.
func (t *NodeTable) Remove(uuid string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.nodes[uuid]
	if ok {
		delete(t.nodes, uuid)
		t.notifyLocked()
	}
	return ok
}

// Expire removes the nodes silent for longer than the expiry and returns
// their uuids.
func (t *NodeTable) Expire(now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var dead []string
	for id, e := range t.nodes {
		if now.Sub(e.lastSeen) > t.expiry {
			dead = append(dead, id)
			delete(t.nodes, id)
		}
	}
	if len(dead) > 0 {
		t.notifyLocked()
	}
	sort.Strings(dead)
	return dead
}

// Alive reports whether the node is known and not silent too long (it may be
// shutting down: its calls still route there).
func (t *NodeTable) Alive(uuid string, now time.Time) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.nodes[uuid]
	return ok && now.Sub(e.lastSeen) <= t.expiry
}

// Accepting reports whether a node may take a new call: alive and not
// shutting down.
func (t *NodeTable) Accepting(uuid string, now time.Time) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.nodes[uuid]
	return ok && now.Sub(e.lastSeen) <= t.expiry && !e.node.Shutdown && e.suspect.IsZero()
}

// Live returns the uuids of the alive nodes, sorted.
func (t *NodeTable) Live(now time.Time) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.nodes))
	for id, e := range t.nodes {
		if now.Sub(e.lastSeen) <= t.expiry {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Nodes returns a copy of every alive node's last status.
func (t *NodeTable) Nodes(now time.Time) []verto.Node {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]verto.Node, 0, len(t.nodes))
	for _, e := range t.nodes {
		if now.Sub(e.lastSeen) <= t.expiry {
			out = append(out, e.node)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UUID < out[j].UUID })
	return out
}

// Overload is how far above the least-loaded node the hashed node may be
// before a new call goes to the least-loaded one instead: utilisation >
// Overload * least + OverloadSlack.
const (
	Overload      = 1.5
	OverloadSlack = 0.05
	// nominalCapacity stands for sessions_max when a node reports none.
	nominalCapacity = 1000
)

// Choose picks a node for a new call to key (destination@domain) among the
// alive nodes that are not shutting down and not in exclude; suspect nodes
// only when no other is left:
//
//  1. rendezvous (highest random weight) hashing of key over the node
//     uuids, so that every XCtrl instance picks the same node for the same
//     destination (all members of a conference meet on one node);
//  2. unless that node is full or its utilisation (sessions / sessions_max,
//     counting the calls this instance placed since the node's last report)
//     is above Overload times the least-loaded node's plus OverloadSlack:
//     then the least-loaded node takes the call.
//
// It counts the call against the chosen node until the node's next report.
func (t *NodeTable) Choose(key string, now time.Time, exclude ...string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cands := make([]*nodeEntry, 0, len(t.nodes))
	var suspects []*nodeEntry
	anyRoom := false
	for _, e := range t.nodes {
		if now.Sub(e.lastSeen) > t.expiry || e.node.Shutdown || slices.Contains(exclude, e.node.UUID) {
			continue
		}
		if !e.suspect.IsZero() {
			suspects = append(suspects, e)
			continue
		}
		cands = append(cands, e)
		anyRoom = anyRoom || !e.full()
	}
	if len(cands) == 0 {
		cands = suspects
		for _, e := range cands {
			anyRoom = anyRoom || !e.full()
		}
	}
	var (
		best, least          *nodeEntry
		bestScore, leastUtil float64
	)
	for _, e := range cands {
		if anyRoom && e.full() {
			continue
		}
		id := e.node.UUID
		if s := hrw(key, id); best == nil || s > bestScore || (s == bestScore && id < best.node.UUID) {
			best, bestScore = e, s
		}
		if u := e.util(); least == nil || u < leastUtil || (u == leastUtil && id < least.node.UUID) {
			least, leastUtil = e, u
		}
	}
	if best == nil {
		return "", false
	}
	pick := best
	if best.util() > Overload*leastUtil+OverloadSlack {
		pick = least
	}
	pick.placed++
	return pick.node.UUID, true
}

func (e *nodeEntry) util() float64 {
	max := e.node.SessionsMax
	if max <= 0 {
		max = nominalCapacity
	}
	return float64(e.node.Sessions+e.placed) / float64(max)
}

func (e *nodeEntry) full() bool {
	return e.node.SessionsMax > 0 && e.node.Sessions+e.placed >= e.node.SessionsMax
}

// hrw is the rendezvous score of key on node: a 64-bit FNV-1a hash of both,
// mixed and mapped to (0,1). The same on every instance.
func hrw(key, node string) float64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(node))
	x := h.Sum64()
	// splitmix64 finaliser: FNV's low bits are weak for short inputs.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return (float64(x>>11) + 0.5) / (1 << 53)
}
