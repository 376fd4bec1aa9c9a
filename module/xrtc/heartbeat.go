package xrtc

import (
	"os"

	"xccrtc/verto"
)

// nodeStatus is the node's Event.Node* params.
func (e *Endpoint) nodeStatus(shutdown bool) *verto.Node {
	hs := e.host.Status()
	name := hs.Hostname
	if name == "" {
		name, _ = os.Hostname()
	}
	version := hs.Version
	if version == "" {
		version = e.opts.Version
	}
	n := &verto.Node{
		UUID:                 e.nodeUUID,
		Name:                 name,
		IP:                   hs.IP,
		Version:              version,
		Sessions:             hs.Sessions,
		SessionsMax:          hs.SessionsMax,
		SessionsSinceStartup: hs.SessionsSinceStartup,
		SessionPeakMax:       hs.SessionPeakMax,
		SPSLast:              hs.SPSLast,
		SPSMax:               hs.SPSMax,
		Shutdown:             shutdown,
	}
	if !e.started.IsZero() {
		n.Uptime = int64(e.clock.Now().Sub(e.started).Seconds())
	}
	return n
}

// publishStatus sends one node status message.
func (e *Endpoint) publishStatus(method string, shutdown bool) {
	subject := e.config().statusSubject()
	if err := e.publish(subject, method, e.nodeStatus(shutdown), false); err != nil {
		e.log.Warn("xrtc: node status not sent", "method", method, "subject", subject, "err", err)
	}
}

// scheduleBeat arms the next Event.NodeUpdate.
func (e *Endpoint) scheduleBeat() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return
	}
	e.beat = e.after(e.opts.HeartbeatInterval, "heartbeat", func() {
		e.publishStatus(verto.MethodNodeUpdate, false)
		e.scheduleBeat()
	})
}
