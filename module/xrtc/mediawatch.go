package xrtc

import (
	"time"

	"xccrtc/verto"
)

// The media watch hangs up an xrtc call whose client sends no media for the
// profile's media-timeout (MEDIA_TIMEOUT, causeCode 804). FreeSWITCH's own
// media_timeout cannot do it on WebRTC calls: consent-freshness STUN and
// RTCP keep restarting its timer (FREESWITCH.md). The watch samples the
// channel's inbound RTP *media* packet counter instead, which STUN, DTLS and
// RTCP never move, while a muted browser (which sends silence) keeps moving
// it.
//
// It runs while the call is early, active or held; on hold (the switch's
// hold state, read at every sample) the hold timeout applies
// (media-hold-timeout, else HoldMultiplier x media-timeout); a
// detached call has no media watch (its detach timer runs instead). The
// counter is sampled every quarter of the timeout, so the hang-up comes
// between 1 and 1.25 timeouts after the last media packet. A call whose media
// bypasses the switch (MediaStats.Bypass) has no media watch.

type mediaWatch struct {
	timer      Timer
	gen        uint64 // bumped to invalidate a scheduled check
	last       uint64 // counter at the last change
	lastChange time.Time
}

func (w *mediaWatch) stopLocked() {
	w.gen++
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// mediaLimit is the timeout in force for the call; c.mu must be held.
func (c *Call) mediaLimitLocked() time.Duration {
	if c.held {
		return c.profile.HoldTimeout()
	}
	return c.profile.MediaTimeout
}

// startMediaWatch (re)starts the watch from now, with the counter as it is.
func (e *Endpoint) startMediaWatch(c *Call) {
	c.mu.Lock()
	ch := c.ch
	limit := c.mediaLimitLocked()
	c.watch.stopLocked()
	c.mu.Unlock()
	if limit <= 0 || ch == nil {
		return
	}
	st := ch.MediaStats()
	if st.Bypass {
		return // the media does not pass through the switch
	}
	n := st.RTPPacketsIn
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case StateEarly, StateActive, StateHeld:
	default:
		return
	}
	e.noteHoldLocked(c, st.Held)
	limit = c.mediaLimitLocked()
	if limit <= 0 {
		return
	}
	c.watch.last = n
	c.watch.lastChange = e.clock.Now()
	e.scheduleMediaCheckLocked(c, limit/4)
}

func (e *Endpoint) scheduleMediaCheckLocked(c *Call, d time.Duration) {
	if d < time.Millisecond {
		d = time.Millisecond
	}
	gen := c.watch.gen
	c.watch.timer = e.after(d, "media watch", func() { e.checkMedia(c, gen) })
}

// checkMedia samples the counter. It runs on the timer, not on the call's
// queue, so that a manual clock's Advance completes the check before it
// returns; only the hang-up goes through the queue.
func (e *Endpoint) checkMedia(c *Call, gen uint64) {
	c.mu.Lock()
	if gen != c.watch.gen {
		c.mu.Unlock()
		return
	}
	ch := c.ch
	c.mu.Unlock()
	st := ch.MediaStats()
	n := st.RTPPacketsIn
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.watch.gen || st.Bypass {
		return
	}
	switch c.state {
	case StateEarly, StateActive, StateHeld:
	default:
		return
	}
	now := e.clock.Now()
	if e.noteHoldLocked(c, st.Held) {
		// held or unheld in the switch: the count restarts under the
		// timeout now in force
		c.watch.lastChange = now
	}
	if n != c.watch.last {
		c.watch.last = n
		c.watch.lastChange = now
	}
	limit := c.mediaLimitLocked()
	if limit <= 0 {
		return
	}
	silent := now.Sub(c.watch.lastChange)
	if silent >= limit {
		c.watch.gen++
		c.watch.timer = nil
		e.runCall(c, "media timeout", func() { e.mediaTimedOut(c, gen+1, silent) })
		return
	}
	e.scheduleMediaCheckLocked(c, min(limit/4, limit-silent))
}

func (e *Endpoint) mediaTimedOut(c *Call, gen uint64, silent time.Duration) {
	c.mu.Lock()
	stale := c.watch.gen != gen || c.state == StateHangup
	held := c.held
	c.mu.Unlock()
	if stale {
		return
	}
	e.stats.mediaTimeouts.Add(1)
	e.log.Warn("xrtc: no media, hanging up", "call_id", c.id, "silent", silent.String(), "held", held, "cause", verto.CauseMediaTimeout.String())
	e.endCall(c, verto.CauseMediaTimeout, true, true)
}
