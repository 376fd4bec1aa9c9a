package xrtc

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"xccrtc/verto"
)

// XCtrl liveness, seen from the node. An XCtrl that is stopped cleanly
// sends xrtc.detach for each of its sockets; one that is killed (SIGKILL,
// a crashed machine) sends nothing, and its calls would only end at
// media-timeout. So the node pings every XCtrl that holds one of its calls
// or sockets (xrtc.ping on cn.xswitch.ctrl.<ctrl_uuid>) each CtrlProbe; when
// NATS answers "no responders" without a break for CtrlDead, nobody
// subscribes that XCtrl's subject any more: its sockets are gone, and the
// node does what xrtc.detach does for each of them (answered calls wait
// detach-timeout-sec for the clients to log in again elsewhere, the others
// end). A node that is itself off the bus draws no conclusion.

// ctrlWatch remembers since when each XCtrl has had no responders.
type ctrlWatch struct {
	mu      sync.Mutex
	silent  map[string]time.Time // ctrl_uuid -> first "no responders" in a row
	timer   Timer
	stopped bool
}

// connectedBus is implemented by buses that know whether they reach a
// server (NATSBus); others are taken as always connected.
type connectedBus interface{ Connected() bool }

func (e *Endpoint) onBus() bool {
	if cb, ok := e.bus.(connectedBus); ok {
		return cb.Connected()
	}
	return true
}

// ctrlsInUse lists the XCtrl instances holding this node's calls and
// sockets.
func (e *Endpoint) ctrlsInUse() []string {
	set := map[string]bool{}
	e.mu.Lock()
	for _, c := range e.calls {
		c.mu.Lock()
		if c.ctrlUUID != "" && c.state != StateHangup && c.state != StateDetached {
			set[c.ctrlUUID] = true
		}
		c.mu.Unlock()
	}
	e.mu.Unlock()
	e.ev.mu.Lock()
	for _, s := range e.ev.sockets {
		if s.ctrlUUID != "" {
			set[s.ctrlUUID] = true
		}
	}
	e.ev.mu.Unlock()
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// scheduleCtrlProbe arms the next round of XCtrl pings.
func (e *Endpoint) scheduleCtrlProbe() {
	w := &e.ctrlw
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || e.opts.CtrlProbe < 0 {
		return
	}
	w.timer = e.after(e.opts.CtrlProbe, "xctrl probe", func() {
		e.probeCtrls()
		e.scheduleCtrlProbe()
	})
}

func (e *Endpoint) stopCtrlProbe() {
	w := &e.ctrlw
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// probeCtrls pings each XCtrl in use, in parallel, and detaches the sockets
// of those that stayed without responders for CtrlDead.
func (e *Endpoint) probeCtrls() {
	if !e.onBus() {
		return
	}
	ctrls := e.ctrlsInUse()
	w := &e.ctrlw
	var wg sync.WaitGroup
	for _, ctrl := range ctrls {
		wg.Add(1)
		e.spawn("xctrl ping", func() {
			defer wg.Done()
			err := e.pingCtrl(ctrl)
			now := e.clock.Now()
			w.mu.Lock()
			if w.silent == nil {
				w.silent = map[string]time.Time{}
			}
			gone := false
			switch {
			case err == nil:
				delete(w.silent, ctrl)
			case errors.Is(err, ErrNoResponders) && e.onBus():
				first, ok := w.silent[ctrl]
				if !ok {
					w.silent[ctrl] = now
					first = now
				}
				gone = now.Sub(first) >= e.opts.CtrlDead
			}
			if gone {
				delete(w.silent, ctrl)
			}
			w.mu.Unlock()
			if gone {
				e.ctrlGone(ctrl)
			}
		})
	}
	wg.Wait()
	// Forget XCtrl instances no longer in use.
	w.mu.Lock()
	for c := range w.silent {
		if !contains(ctrls, c) {
			delete(w.silent, c)
		}
	}
	w.mu.Unlock()
}

// pingCtrl sends one xrtc.ping to an XCtrl.
func (e *Endpoint) pingCtrl(ctrl string) error {
	m, err := verto.NewRequest(e.nextID(), verto.MethodXrtcPing, map[string]string{verto.KeyNodeUUID: e.nodeUUID})
	if err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(e.ctx, max(e.opts.CtrlProbe, time.Second))
	defer cancel()
	_, err = e.bus.Request(ctx, e.subjects.Ctrl(ctrl), b)
	return err
}

// ctrlGone does what xrtc.detach does for every socket an XCtrl held.
func (e *Endpoint) ctrlGone(ctrl string) {
	sessids := map[string]bool{}
	e.mu.Lock()
	var calls []*Call
	for _, c := range e.calls {
		c.mu.Lock()
		if c.ctrlUUID == ctrl {
			calls = append(calls, c)
			sessids[c.sessid] = true
		}
		c.mu.Unlock()
	}
	e.mu.Unlock()
	e.ev.mu.Lock()
	for sid, s := range e.ev.sockets {
		if s.ctrlUUID == ctrl {
			sessids[sid] = true
		}
	}
	e.ev.mu.Unlock()
	e.log.Warn("xrtc: XCtrl gone from the bus (no responders): its sockets are detached", "ctrl_uuid", ctrl,
		"calls", len(calls), "sockets", len(sessids))
	e.stats.ctrlsGone.Add(1)
	for _, c := range calls {
		e.runCall(c, "xctrl gone", func() { e.detachCall(c, ctrl) })
	}
	for sid := range sessids {
		if sid != "" {
			e.ev.dropSocketOf(sid, ctrl)
		}
	}
	e.updateEventWants()
}

// callsFor answers xrtc.calls: the calls held for an XCtrl's sockets.
func (e *Endpoint) callsFor(r *request, ctrl string) {
	out := verto.CallsReply{NodeUUID: e.nodeUUID, Calls: []verto.CallState{}}
	e.mu.Lock()
	for _, c := range e.calls {
		c.mu.Lock()
		if c.ctrlUUID == ctrl || contains(c.ringCtrls, ctrl) {
			out.Calls = append(out.Calls, verto.CallState{CallID: c.id, Sessid: c.sessid, CtrlUUID: c.ctrlUUID, State: c.state.String()})
		}
		c.mu.Unlock()
	}
	e.mu.Unlock()
	sort.Slice(out.Calls, func(i, j int) bool { return out.Calls[i].CallID < out.Calls[j].CallID })
	e.respond(r, out, nil)
}
