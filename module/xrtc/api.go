package xrtc

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// APIUsage is the help text of the `xrtc` command.
const APIUsage = "usage: xrtc status | calls | debug [0-7] | reload"

// API runs an operator command (fs_cli: `xrtc <args>`) and returns its
// output. The binding only forwards the arguments and writes the text to the
// stream.
//
//	status   profiles, NATS connection, node_uuid, subjects, calls
//	calls    one line per call
//	debug N  log every Verto message in and out (N > 0), or stop (0)
//	reload   read the configuration again; calls keep their profile; a
//	         configuration with errors is refused and the old one stays
func (e *Endpoint) API(args string) (out string) {
	defer func() {
		if v := recover(); v != nil {
			e.stats.panics.Add(1)
			e.log.Error("xrtc: recovered panic in API", "args", args, "panic", fmt.Sprint(v))
			out = fmt.Sprintf("-ERR internal error: %v\n", v)
		}
	}()
	f := strings.Fields(args)
	if len(f) == 0 {
		return APIUsage + "\n"
	}
	switch f[0] {
	case "status":
		return e.statusText()
	case "calls":
		return e.callsText()
	case "debug":
		if len(f) == 1 {
			return fmt.Sprintf("+OK debug %d\n", e.debug.Load())
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n < 0 || n > 7 {
			return "-ERR debug level must be 0-7\n"
		}
		e.debug.Store(int32(n))
		return fmt.Sprintf("+OK debug %d\n", n)
	case "reload":
		return e.reloadText()
	case "help":
		return APIUsage + "\n"
	}
	return "-ERR unknown command\n" + APIUsage + "\n"
}

func (e *Endpoint) statusText() string {
	cfg := e.config()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	bus := "not started"
	if e.bus != nil {
		bus = e.bus.Status()
	}
	n := e.countCalls()
	sockets, channels := e.ev.socketCount()
	hs := e.host.Status()
	fmt.Fprintf(tw, "node_uuid\t%s\n", e.nodeUUID)
	fmt.Fprintf(tw, "switch\t%s %s, %d/%d sessions\n", hs.Hostname, hs.Version, hs.Sessions, hs.SessionsMax)
	fmt.Fprintf(tw, "nats\t%s\n", bus)
	fmt.Fprintf(tw, "subjects\t%s, %s (queue %s), status %s\n", e.NodeSubject(), cfg.nodeBase(), cfg.nodeQueue(), cfg.statusSubject())
	fmt.Fprintf(tw, "debug\t%d\n", e.debug.Load())
	if !e.started.IsZero() {
		fmt.Fprintf(tw, "uptime\t%s\n", e.clock.Now().Sub(e.started).Truncate(time.Second))
	}
	fmt.Fprintf(tw, "calls\t%d (inbound %d, outbound %d, held %d, detached %d; %d since start)\n",
		n.total, n.in, n.out, n.held, n.detached, e.stats.callsTotal.Load())
	fmt.Fprintf(tw, "sockets\t%d (event channels %d)\n", sockets, channels)
	fmt.Fprintf(tw, "messages\t%d received, %d bad, %d on others' calls, %d over a full queue, %d replies, %d publish failures, %d media timeouts, %d panics, %d bad transitions\n",
		e.stats.received.Load(), e.stats.badInput.Load(), e.stats.foreign.Load(), e.stats.queueFull.Load(), e.stats.replies.Load(), e.stats.publishFailed.Load(),
		e.stats.mediaTimeouts.Load(), e.stats.panics.Load(), e.stats.badTransitions.Load())
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "profile\tctrl-subject\tmedia-timeout\thold-timeout\tdetach\tcontext\tdialplan\tcodecs\trtp-ip\twarnings")
	for _, name := range cfg.profileNames() {
		p := cfg.Profiles[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", p.Name, cfg.ctrlSubject(p),
			msOrOff(p.MediaTimeout), msOrOff(p.HoldTimeout()), cfg.detachTimeout(p), p.context(), p.dialplan(),
			p.OutboundCodecString, joinOr(p.RTPIPs, "-"), len(p.Warnings))
	}
	if len(cfg.Profiles) == 0 {
		fmt.Fprintln(tw, "(none: every call fails)")
	}
	tw.Flush()
	// The warnings of the configuration in force, next to their profile.
	for _, w := range cfg.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, name := range cfg.profileNames() {
		for _, w := range cfg.Profiles[name].Warnings {
			fmt.Fprintf(&b, "warning: profile %s: %s\n", name, w)
		}
	}
	return b.String()
}

// callCounts are the calls in progress by direction and state.
type callCounts struct{ total, in, out, held, detached int }

// countCalls counts the calls from the endpoint's own state: no call into
// the switch (Calls reads each channel's media counter; status needs none).
func (e *Endpoint) countCalls() callCounts {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := callCounts{total: len(e.calls)}
	for _, c := range e.calls {
		c.mu.Lock()
		dir, st := c.dir, c.state
		c.mu.Unlock()
		if dir == Outbound {
			n.out++
		} else {
			n.in++
		}
		switch st {
		case StateDetached:
			n.detached++
		case StateHeld:
			n.held++
		}
	}
	return n
}

func msOrOff(d time.Duration) string {
	if d <= 0 {
		return "off"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func (e *Endpoint) callsText() string {
	calls := e.Calls()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "uuid\tdirection\tstate\tprofile\tdestination\tsessid\tctrl_uuid\tage\trtp_in")
	now := e.clock.Now()
	for _, c := range calls {
		state := c.State
		if c.Held && c.State != StateHeld.String() {
			state += "+held"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", c.UUID, c.Direction, state, c.Profile,
			orDash(c.Destination), orDash(c.Sessid), orDash(c.CtrlUUID), now.Sub(c.Created).Truncate(time.Second), c.RTPIn)
	}
	tw.Flush()
	fmt.Fprintf(&b, "%d calls\n", len(calls))
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Reload reads the configuration again (Options.Reload) and puts it in
// force for new calls; calls in progress keep the profile they started
// with. A configuration that fails is refused and the old one stays. The
// NATS URLs, node UUID and subjects are only read at start.
func (e *Endpoint) Reload() error {
	if e.opts.Reload == nil {
		return fmt.Errorf("xrtc: reload is not available")
	}
	cfg, err := e.opts.Reload()
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	old := e.config()
	e.cfg.Store(&cfg)
	e.debug.Store(int32(cfg.Settings.Debug))
	e.updateEventWants() // enable-presence, enable-fs-events
	if changed := startOnlyChanges(old, &cfg); len(changed) > 0 {
		e.log.Warn("xrtc: reload: these settings take effect at the next module load", "settings", strings.Join(changed, ","))
	}
	e.log.Info("xrtc: configuration reloaded", "profiles", strings.Join(cfg.profileNames(), ","))
	return nil
}

func startOnlyChanges(a, b *Config) []string {
	var out []string
	if strings.Join(a.Settings.NATSURLs, ",") != strings.Join(b.Settings.NATSURLs, ",") {
		out = append(out, "nats-url")
	}
	if a.Settings.NodeUUID != b.Settings.NodeUUID {
		out = append(out, "node-uuid")
	}
	if a.nodeBase() != b.nodeBase() || a.nodeQueue() != b.nodeQueue() {
		out = append(out, "node-subject")
	}
	return out
}

func (e *Endpoint) reloadText() string {
	if err := e.Reload(); err != nil {
		return "-ERR configuration refused, the old one stays:\n" + strings.TrimRight(err.Error(), "\n") + "\n"
	}
	return "+OK reloaded: profiles " + strings.Join(e.config().profileNames(), ", ") + "\n"
}

func sortCallInfos(cs []CallInfo) {
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].Created.Equal(cs[j].Created) {
			return cs[i].Created.Before(cs[j].Created)
		}
		return cs[i].UUID < cs[j].UUID
	})
}
