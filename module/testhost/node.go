package testhost

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"xccrtc/module/xrtc"
	"xccrtc/verto"
)

// Options configure a test node: the xrtc endpoint on a test host.
type Options struct {
	// NATSURL is the NATS server ("" = nats://127.0.0.1:4222).
	NATSURL string
	// NodeUUID is the node's identity ("" = a new UUID).
	NodeUUID string
	// Config is the endpoint's configuration (nil = DefaultConfig()).
	Config *xrtc.Config
	// Domain is the switch's default domain ("xswitch.cn" when empty).
	Domain string
	// IP is where media binds (nil = 127.0.0.1).
	IP net.IP
	// Log receives the node's logs (nil = slog.Default()).
	Log *slog.Logger
	// Clock drives the endpoint's timers (nil = the system clock).
	Clock xrtc.Clock
	// Endpoint, if set, makes last changes to the endpoint's options.
	Endpoint func(*xrtc.Options)
	// Directory answers XCtrl's user lookups (nil: the node knows no user).
	Directory UserDirectory
}

// DefaultConfig is a one-profile configuration: profile "default",
// media-timeout 30 s (hold: 300 s), calls to users on cn.xswitch.ctrl.rtc.
func DefaultConfig() xrtc.Config {
	return xrtc.Config{
		Settings: xrtc.Settings{DetachTimeout: xrtc.DefaultDetachTimeout},
		Profiles: map[string]*xrtc.Profile{
			verto.DefaultProfile: {Name: verto.DefaultProfile, MediaTimeout: 30 * time.Second, Context: "default", Dialplan: "XML",
				OutboundCodecString: "PCMU,opus", RTPIPs: []string{"127.0.0.1"}},
		},
	}
}

// Node is an xrtc endpoint running on a test host: a complete XNode
// without FreeSWITCH.
type Node struct {
	Host     *Host
	Endpoint *xrtc.Endpoint
}

// Start starts a test node in-process and connects it to NATS.
func Start(ctx context.Context, o Options) (*Node, error) {
	cfg := DefaultConfig()
	if o.Config != nil {
		cfg = *o.Config
	}
	if o.NATSURL != "" {
		cfg.Settings.NATSURLs = []string{o.NATSURL}
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	h := NewHost(HostOptions{Domain: o.Domain, IP: o.IP, Log: log, Directory: o.Directory})
	eo := xrtc.Options{Config: cfg, Host: h, NodeUUID: o.NodeUUID, Clock: o.Clock, Log: log, Version: "testhost"}
	if eo.NodeUUID == "" {
		eo.NodeUUID = h.coreUUID
	}
	if o.Endpoint != nil {
		o.Endpoint(&eo)
	}
	ep, err := xrtc.New(eo)
	if err != nil {
		return nil, err
	}
	h.Bind(ep)
	if err := ep.Start(ctx); err != nil {
		h.Close()
		return nil, err
	}
	return &Node{Host: h, Endpoint: ep}, nil
}

// Close stops the endpoint (its calls end with SYSTEM_SHUTDOWN) and the host.
func (n *Node) Close(ctx context.Context) error {
	err := n.Endpoint.Stop(ctx)
	n.Host.Close()
	return err
}

// Originate calls a WebRTC user the way `originate <dial string> &<app>`
// does in FreeSWITCH: dial is a whole xrtc dial string
// ("{ctrl_uuid=c1}xrtc/1000@xswitch.cn"), app what the channel plays once
// answered (echo, tone or silence). It waits until the user answers (nil)
// or the call fails (a *xrtc.CauseError: USER_NOT_REGISTERED,
// NO_USER_RESPONSE, NO_ANSWER ...), and returns the channel in both cases.
func (n *Node) Originate(ctx context.Context, dial string, app App) (*Channel, error) {
	d, err := verto.ParseDialString(dial)
	if err != nil {
		return nil, &xrtc.CauseError{Cause: verto.CauseInvalidNumberFormat, Err: err}
	}
	vars := map[string]string{"testhost_app": string(app)}
	for _, kv := range d.Vars {
		vars[kv.Key] = kv.Value
	}
	d.Vars = nil
	xch, err := n.Endpoint.Originate(ctx, xrtc.OriginateRequest{
		Target: d.Target(), Vars: vars,
		Caller: xrtc.CallerProfile{CallerIDName: firstNonEmpty(vars["origination_caller_id_name"], "testhost"),
			CallerIDNumber: firstNonEmpty(vars["origination_caller_id_number"], "0000000000")},
	})
	if err != nil {
		return nil, err
	}
	ch, ok := xch.(*Channel)
	if !ok {
		return nil, fmt.Errorf("testhost: endpoint returned a %T", xch)
	}
	return ch, ch.WaitAnswered(ctx)
}

// Conference returns the call UUIDs in a conference of the host's default
// domain, in join order (nil when it does not exist).
func (n *Node) Conference(name string) []string {
	n.Host.mu.Lock()
	c := n.Host.confs[name+"@"+n.Host.opts.Domain]
	n.Host.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Members()
}
