package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"xccrtc/tools/client"
)

// console prints events on stderr and, when stdout is a terminal, keeps a
// live status line at the bottom of stdout.
type console struct {
	mu     sync.Mutex
	out    io.Writer
	err    io.Writer
	tty    bool
	quiet  bool
	status bool // a status line is shown
}

func newConsole(stdout, stderr io.Writer, f *commonFlags) *console {
	return &console{out: stdout, err: stderr, tty: !f.json && isTerminal(stdout), quiet: f.quiet}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// eventf prints one line on stderr.
func (c *console) eventf(format string, args ...any) {
	if c.quiet {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	fmt.Fprintf(c.err, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// errorf prints an error line on stderr, even when quiet.
func (c *console) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	fmt.Fprintf(c.err, "xrtc-client: %s\n", fmt.Sprintf(format, args...))
}

// setStatus redraws the status line (terminals only).
func (c *console) setStatus(s string) {
	if !c.tty {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "\r\033[K%s", s)
	c.status = true
}

func (c *console) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *console) clearLocked() {
	if c.status {
		fmt.Fprint(c.out, "\r\033[K")
		c.status = false
	}
}

// print writes the final output on stdout.
func (c *console) print(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	fmt.Fprint(c.out, s)
}

// onEvent prints client events.
func (c *console) onEvent(e client.Event) {
	switch e.Kind {
	case client.EventPing, client.EventMembers, client.EventChat:
		return // pings are noise; members and chat are printed by the conference command
	}
	id := e.CallID
	if len(id) > 8 {
		id = id[:8]
	}
	if id != "" {
		id = " call " + id
	}
	c.eventf("%-13s%s %s", e.Kind, id, strings.TrimSpace(e.Text))
}

// statusLine is the one-line summary of a running call.
func statusLine(r client.Report) string {
	s := fmt.Sprintf("%s %5.1fs  sent %d  recv %d  loss %.1f%%  jitter %.1fms",
		orDash(r.Codec), r.DurationMS/1000, r.RTPPacketsSent, r.RTPPacketsReceived, r.LossPct, r.JitterMS)
	if r.RTTSamples > 0 {
		s += fmt.Sprintf("  rtt %.1fms", r.RTTMS)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
