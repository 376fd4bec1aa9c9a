package xrtctest

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"xccrtc/module/xrtc"
)

// The fake host's optional switch services: API commands (xrtc.APIRunner),
// presence probes (xrtc.PresenceProber) and event wants (xrtc.EventFilter).

var (
	_ xrtc.APIRunner      = (*Host)(nil)
	_ xrtc.PresenceProber = (*Host)(nil)
	_ xrtc.EventFilter    = (*Host)(nil)
)

type switchState struct {
	mu     sync.Mutex
	apis   map[string]string          // API command -> output
	jsapis map[string]json.RawMessage // JSON API command -> response
	ran    []string
	probes []string
	wants  []xrtc.EventWants
	wake   chan struct{}
}

// SetAPI makes the API command cmd answer out (ExecuteAPI); other commands
// fail.
func (h *Host) SetAPI(cmd, out string) {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	if h.sw.apis == nil {
		h.sw.apis = map[string]string{}
	}
	h.sw.apis[cmd] = out
}

// SetJSONAPI makes the JSON API command answer res (ExecuteJSONAPI).
func (h *Host) SetJSONAPI(command string, res json.RawMessage) {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	if h.sw.jsapis == nil {
		h.sw.jsapis = map[string]json.RawMessage{}
	}
	h.sw.jsapis[command] = res
}

// Ran lists what ExecuteAPI ("cmd arg") and ExecuteJSONAPI (the request)
// were asked, in order.
func (h *Host) Ran() []string {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	return append([]string(nil), h.sw.ran...)
}

// ExecuteAPI implements xrtc.APIRunner.
func (h *Host) ExecuteAPI(cmd, arg string) (string, error) {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	h.sw.ran = append(h.sw.ran, cmd+" "+arg)
	out, ok := h.sw.apis[cmd]
	if !ok {
		return "", errors.New("INVALID COMMAND!")
	}
	return out, nil
}

// ExecuteJSONAPI implements xrtc.APIRunner.
func (h *Host) ExecuteJSONAPI(req json.RawMessage) (json.RawMessage, error) {
	var r struct {
		Command string `json:"command"`
	}
	_ = json.Unmarshal(req, &r)
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	h.sw.ran = append(h.sw.ran, string(req))
	res, ok := h.sw.jsapis[r.Command]
	if !ok {
		return nil, xrtc.ErrNoJSONAPI
	}
	return res, nil
}

// ProbePresence implements xrtc.PresenceProber: it records the channel.
func (h *Host) ProbePresence(channel string) {
	h.sw.mu.Lock()
	h.sw.probes = append(h.sw.probes, channel)
	h.sw.mu.Unlock()
	h.sw.notify()
}

// Probes lists the presence probes, in order.
func (h *Host) Probes() []string {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	return append([]string(nil), h.sw.probes...)
}

// WantEvents implements xrtc.EventFilter: it records what the endpoint
// wants.
func (h *Host) WantEvents(w xrtc.EventWants) {
	h.sw.mu.Lock()
	h.sw.wants = append(h.sw.wants, w)
	h.sw.mu.Unlock()
	h.sw.notify()
}

// Wants returns what the endpoint last said it wants.
func (h *Host) Wants() xrtc.EventWants {
	h.sw.mu.Lock()
	defer h.sw.mu.Unlock()
	if len(h.sw.wants) == 0 {
		return xrtc.EventWants{}
	}
	return h.sw.wants[len(h.sw.wants)-1]
}

// WaitWants waits until the endpoint wants w.
func (h *Host) WaitWants(t TB, w xrtc.EventWants) {
	t.Helper()
	deadline := time.After(Wait)
	for {
		h.sw.mu.Lock()
		if h.sw.wake == nil {
			h.sw.wake = make(chan struct{})
		}
		wake := h.sw.wake
		h.sw.mu.Unlock()
		if h.Wants() == w {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("the endpoint wants %+v, not %+v, after %s", h.Wants(), w, Wait)
		}
	}
}

func (s *switchState) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
}
