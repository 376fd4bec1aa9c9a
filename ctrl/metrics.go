package ctrl

import (
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"xccrtc/verto"
)

// Metrics are XCtrl's Prometheus metrics, kept with the Prometheus Go
// client in a registry of their own (several servers may share a process):
// counters and the relay latency histogram updated as things happen, the
// gauges read at scrape time, plus the standard Go runtime and process
// collectors.
type Metrics struct {
	reg *prometheus.Registry

	logins   [loginResults]prometheus.Counter
	toNode   map[string]prometheus.Counter // relayed client->node by method
	toClient map[string]prometheus.Counter // relayed node->client by method

	badFrames   counter
	rateLimited counter
	// invitesLimited: verto.invite refused by the per-login invite rate.
	invitesLimited counter
	// callsLimited: verto.invite refused because the login holds
	// MaxCallsPerUser calls.
	callsLimited counter
	// castsLimited: verto.broadcast refused by the per-login broadcast rate.
	castsLimited counter
	// userLimited: messages refused by the per-login message rate.
	userLimited counter
	// userDataLimited: messages refused by the per-login byte rate.
	userDataLimited counter
	slowDropped     counter
	nodeTimeout     counter
	nodeSuspect     counter
	refusedBy       *prometheus.CounterVec
	peersGone       counter

	relay histogram
}

// Login results counted in xctrl_logins_total{result}.
const (
	LoginOK = iota
	LoginFailed
	LoginThrottled
	LoginInUse
	LoginTooManySockets
	LoginRateLimited
	loginResults
)

var loginResultNames = [loginResults]string{"ok", "failed", "throttled", "session_in_use", "too_many_sockets", "rate_limited"}

// relayBuckets are the latency histogram's upper bounds in seconds.
var relayBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// counter is a Prometheus counter counted in whole events.
type counter struct{ c prometheus.Counter }

func (c counter) Add(n uint64) { c.c.Add(float64(n)) }

// histogram is a Prometheus histogram of durations in seconds.
type histogram struct{ h prometheus.Histogram }

func (h histogram) observe(d time.Duration) { h.h.Observe(max(d, 0).Seconds()) }

// clientBoundMethods are the methods counted by name in
// xctrl_relayed_total{direction="to_client"}; the rest count as "other".
var clientBoundMethods = []string{verto.MethodInvite, verto.MethodMedia, verto.MethodAnswer, verto.MethodBye,
	verto.MethodAttach, verto.MethodDisplay, verto.MethodInfo, verto.MethodEvent, verto.MethodPrompt,
	verto.MethodMediaParams, verto.MethodModify, verto.MethodPunt, verto.MethodClientReady, verto.MethodPing,
	verto.MethodTrying}

// newMetrics registers every metric; the gauges read srv when scraped (srv
// nil: no XCtrl gauges).
func newMetrics(srv *Server) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), toNode: map[string]prometheus.Counter{}, toClient: map[string]prometheus.Counter{}}
	f := registerer{m.reg}

	logins := f.counterVec("xctrl_logins_total", "Login attempts by result.", "result")
	for i, n := range loginResultNames {
		m.logins[i] = logins.WithLabelValues(n)
	}
	relayed := f.counterVec("xctrl_relayed_total", "Verto messages relayed, by direction and method.", "direction", "method")
	for _, meth := range append(append([]string(nil), verto.ClientMethods...), "other") {
		m.toNode[meth] = relayed.WithLabelValues("to_node", meth)
	}
	for _, meth := range append(append([]string(nil), clientBoundMethods...), "other") {
		m.toClient[meth] = relayed.WithLabelValues("to_client", meth)
	}
	m.badFrames = f.counter("xctrl_bad_frames_total", "Frames or messages answered with a JSON-RPC error before routing.")
	m.rateLimited = f.counter("xctrl_rate_limited_total", "Messages refused by the per-socket rate limit.")
	m.userLimited = f.counter("xctrl_user_rate_limited_total", "Messages refused by the per-login message rate (--user-rate), all of a user's sockets together.")
	m.userDataLimited = f.counter("xctrl_user_data_limited_total", "Messages refused by the per-login data rate (--user-data-rate), all of a user's sockets together.")
	m.invitesLimited = f.counter("xctrl_invites_rate_limited_total", "verto.invite requests refused by the per-login invite rate (--invite-rate-per-user).")
	m.callsLimited = f.counter("xctrl_invites_over_call_limit_total", "verto.invite requests refused because their login holds --max-calls-per-user calls on this instance.")
	m.castsLimited = f.counter("xctrl_broadcasts_rate_limited_total", "verto.broadcast requests refused by the per-login broadcast rate (--broadcast-rate-per-user).")
	m.slowDropped = f.counter("xctrl_slow_clients_dropped_total", "Sockets closed because their send queue overflowed.")
	m.nodeTimeout = f.counter("xctrl_node_timeouts_total", "Relayed requests that a node did not answer in time.")
	m.nodeSuspect = f.counter("xctrl_node_suspected_total", "Times a node got no responders or timed out and was taken out of the choice.")
	m.refusedBy = f.counterVec("xctrl_sockets_refused_total",
		"Client connections closed as they came: at the socket limit (capacity), or too many not logged in from one address (address).", "reason")
	for _, r := range []string{refusedCapacity, refusedAddress} {
		m.refusedBy.WithLabelValues(r) // both series exist from the start, at 0
	}
	m.peersGone = f.counter("xctrl_silent_peers_closed_total", "Logged-in sockets closed because nothing came from them for the peer timeout, pings included.")
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "xctrl_relay_seconds",
		Help: "Client request to node reply written back to the client.", Buckets: relayBuckets})
	m.reg.MustRegister(h)
	m.relay = histogram{h}

	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if srv != nil {
		m.reg.MustRegister(&serverGauges{srv: srv})
	}
	return m
}

// registerer makes metrics into one registry.
type registerer struct{ reg *prometheus.Registry }

func (r registerer) counter(name, help string) counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	r.reg.MustRegister(c)
	return counter{c}
}

func (r registerer) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	r.reg.MustRegister(c)
	return c
}

func (m *Metrics) login(result int) { m.logins[result].Inc() }

func (m *Metrics) refused(reason string) { m.refusedBy.WithLabelValues(reason).Inc() }

func (m *Metrics) relayedToNode(method string) { count(m.toNode, method) }

func (m *Metrics) relayedToClient(method string) { count(m.toClient, method) }

func count(t map[string]prometheus.Counter, method string) {
	c, ok := t[method]
	if !ok {
		c = t["other"]
	}
	c.Inc()
}

// Registry is the Prometheus registry holding every metric (to add
// collectors, or to gather in tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the format the scraper asks for.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// WriteTo writes every metric in the Prometheus text format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	mfs, err := m.reg.Gather()
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	enc := expfmt.NewEncoder(cw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return cw.n, err
		}
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// serverGauges are the gauges read from the server's tables at scrape time.
type serverGauges struct{ srv *Server }

var (
	socketsDesc = prometheus.NewDesc("xctrl_sockets", "Open WebSockets.", []string{"state"}, nil)
	nodesDesc   = prometheus.NewDesc("xctrl_nodes_alive", "Nodes heard from within the expiry.", nil, nil)
	callsDesc   = prometheus.NewDesc("xctrl_calls", "Calls mapped on this instance, by state.", []string{"state"}, nil)
	pendingDesc = prometheus.NewDesc("xctrl_pending_requests", "Relayed requests waiting for a node.", nil, nil)
	heldDesc    = prometheus.NewDesc("xctrl_send_queued_bytes",
		"Bytes of frames queued to all sockets or being written to them (bounded by --max-queued-total).", nil, nil)
	certDesc = prometheus.NewDesc("xctrl_tls_certificate_not_after_seconds",
		"When the wss:// certificate in use expires (Unix time): alert before it does.", nil, nil)
)

func (g *serverGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- socketsDesc
	ch <- nodesDesc
	ch <- callsDesc
	ch <- pendingDesc
	ch <- heldDesc
	ch <- certDesc
}

func (g *serverGauges) Collect(ch chan<- prometheus.Metric) {
	s := g.srv
	all, in := s.sessions.Len()
	ch <- prometheus.MustNewConstMetric(socketsDesc, prometheus.GaugeValue, float64(all), "open")
	ch <- prometheus.MustNewConstMetric(socketsDesc, prometheus.GaugeValue, float64(in), "logged_in")
	ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(len(s.nodes.Live(time.Now()))))
	counts := s.router.Counts()
	for _, st := range callStateNames {
		ch <- prometheus.MustNewConstMetric(callsDesc, prometheus.GaugeValue, float64(counts[st]), st)
	}
	ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, float64(s.queued.Load()))
	if s.certs != nil {
		ch <- prometheus.MustNewConstMetric(certDesc, prometheus.GaugeValue, float64(s.certs.NotAfter().Unix()))
	}
	if s.reqs != nil {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(s.reqs.Pending()))
	}
}
