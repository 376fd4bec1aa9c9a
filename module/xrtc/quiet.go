package xrtc

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// quietEvery is how often one kind of client-caused warning is logged.
const quietEvery = 10 * time.Second

// quietLog bounds the warnings that clients can cause at their message
// rate (a refused request repeated, a stolen callID tried, a switch that
// refuses each new channel while it is full): each message is logged at
// most once every quietEvery, with how many like it were left out since,
// so that one client cannot flood the switch's log (each line is also a
// call into FreeSWITCH's logger). The endpoint's counters still count
// every one. Messages are the call sites' constants: the map stays small.
type quietLog struct {
	mu    sync.Mutex
	kinds map[string]*quietKind
}

type quietKind struct {
	last time.Time
	left int
}

// warnQuiet logs msg at warning level unless a line with the same message
// was logged within quietEvery.
func (e *Endpoint) warnQuiet(msg string, args ...any) { e.logQuiet(slog.LevelWarn, msg, args...) }

// infoQuiet is warnQuiet at info level: for what a client or the switch
// may cause at its message rate and that is no fault (a chat to nobody).
func (e *Endpoint) infoQuiet(msg string, args ...any) { e.logQuiet(slog.LevelInfo, msg, args...) }

func (e *Endpoint) logQuiet(level slog.Level, msg string, args ...any) {
	now := e.clock.Now()
	q := &e.quiet
	q.mu.Lock()
	k := q.kinds[msg]
	if k == nil {
		if q.kinds == nil {
			q.kinds = make(map[string]*quietKind)
		}
		k = &quietKind{}
		q.kinds[msg] = k
	} else if now.Sub(k.last) < quietEvery {
		k.left++
		q.mu.Unlock()
		return
	}
	left := k.left
	k.last, k.left = now, 0
	q.mu.Unlock()
	if left > 0 {
		args = append(args, slog.Int("suppressed", left))
	}
	e.log.Log(context.Background(), level, msg, args...)
}
