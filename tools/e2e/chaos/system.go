package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"xccrtc/ctrl"
	"xccrtc/natsauth"
	"xccrtc/verto"
)

// Domain and Password are those of the users in the generated directory
// (u0, u1, ...).
const (
	Domain   = "xswitch.cn"
	Password = "1234"
)

// Destinations of the test host's dialplan the scenarios call: 9196 echoes
// the caller's audio, 9197 plays a tone. With two nodes, the node uuids are
// chosen so that each destination hashes to its own node.
const (
	DestEcho = "9196"
	DestTone = "9197"
)

// XCtrl's default buckets: the registry and the call book.
const (
	registryBucket = "xrtc_registry"
	callBookBucket = "xrtc_calls"
)

// Options describe a System.
type Options struct {
	Bins Bins
	Dir  string // stores, logs, token, directory
	Log  *slog.Logger

	NATS     int // NATS servers: 1, or 3 for a cluster
	Ctrls    int
	Nodes    int
	Replicas int // registry replicas (--registry-replicas)
	Users    int // users in the directory
	// CtrlNATS names, per XCtrl, the NATS members it is given (default:
	// all); the others it learns from the cluster.
	CtrlNATS func(i int) []int
	CtrlArgs []string // more xctrl flags
	NodeArgs []string // more xrtc-node flags
}

// System is a deployment of separate processes on 127.0.0.1: NATS
// server(s), XCtrl instances and test-host nodes, plus the harness's own
// NATS connection (to read the registry, and to play a hostile peer).
type System struct {
	o         Options
	log       *slog.Logger
	token     string
	tokenFile string
	dirFile   string

	NATS  []*NATSServer
	Ctrls []*Ctrl
	Nodes []*Node

	nc    *nats.Conn
	users atomic.Int64
}

// NATSServer is one xrtc-natsd process.
type NATSServer struct {
	*Proc
	URL string
}

// Ctrl is one xctrl process.
type Ctrl struct {
	*Proc
	UUID    string
	WS      string // ws:// URL
	Health  string // /healthz URL
	Metrics string // /metrics URL
}

// Node is one xrtc-node process.
type Node struct {
	*Proc
	UUID string
	seq  atomic.Int64
}

// Start starts the NATS server(s), then the XCtrl instances, then the
// nodes, and returns once every XCtrl answers /healthz with every node
// alive. On error whatever started is stopped.
func Start(ctx context.Context, o Options) (s *System, err error) {
	if o.NATS <= 0 {
		o.NATS = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Users <= 0 {
		o.Users = 100
	}
	s = &System{o: o, log: o.Log}
	defer func() {
		if err != nil {
			s.Close()
			s = nil
		}
	}()
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return s, err
	}
	s.tokenFile = filepath.Join(o.Dir, "nats.token")
	s.token = newToken()
	if err := natsauth.WriteToken(s.tokenFile, s.token); err != nil {
		return s, err
	}
	s.dirFile = filepath.Join(o.Dir, "directory.xml")
	if err := writeDirectory(s.dirFile, o.Users); err != nil {
		return s, err
	}
	if err := s.startNATS(ctx); err != nil {
		return s, err
	}
	if s.nc, err = s.Connect(); err != nil {
		return s, fmt.Errorf("chaos: harness nats: %w", err)
	}
	if err := s.WaitJetStream(ctx, -1); err != nil {
		return s, err
	}
	for i := 0; i < o.Ctrls; i++ {
		if err := s.startCtrl(ctx, i); err != nil {
			return s, err
		}
	}
	uuids := nodeUUIDs(o.Nodes)
	for i := 0; i < o.Nodes; i++ {
		if err := s.startNode(ctx, uuids[i]); err != nil {
			return s, err
		}
	}
	for _, c := range s.Ctrls {
		if err := c.WaitHealthy(ctx, len(s.Nodes)); err != nil {
			return s, err
		}
	}
	return s, nil
}

func newToken() string {
	return strings.ReplaceAll(ctrl.NewUUID(), "-", "")
}

// writeDirectory writes a FreeSWITCH directory of users u0..u<n-1>, with
// the stock directory's domain params (jsonrpc-allowed-methods verto).
func writeDirectory(path string, n int) error {
	var b strings.Builder
	b.WriteString(`<document type="freeswitch/xml"><section name="directory"><domain name="` + Domain + `">` +
		`<params><param name="jsonrpc-allowed-methods" value="verto"/><param name="jsonrpc-allowed-event-channels" value="demo,conference,presence"/></params><groups><group name="default"><users>` + "\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<user id="u%d"><params><param name="password" value="%s"/></params></user>`+"\n", i, Password)
	}
	b.WriteString(`</users></group></groups></domain></section></document>` + "\n")
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// nodeUUIDs names n nodes. Two nodes get names such that DestEcho hashes
// to the first and DestTone to the second, as every XCtrl computes it: the
// calls of a scenario then land on both.
func nodeUUIDs(n int) []string {
	if n != 2 {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("chaos-node-%d", i+1)
		}
		return out
	}
	for k := 0; ; k++ {
		a, b := fmt.Sprintf("chaos-node-1-%d", k), fmt.Sprintf("chaos-node-2-%d", k)
		if pick(DestEcho, a, b) == a && pick(DestTone, a, b) == b {
			return []string{a, b}
		}
	}
}

// pick is the node an XCtrl chooses for a first call to dest among idle
// nodes.
func pick(dest string, nodes ...string) string {
	now := time.Now()
	t := ctrl.NewNodeTable(time.Minute)
	for _, n := range nodes {
		t.Update(verto.Node{UUID: n}, now)
	}
	id, _ := t.Choose(dest+"@"+Domain, now)
	return id
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startNATS starts the NATS members. Their ports are picked free, then
// bound by the children: meanwhile another process (the tests of another
// package, on a shared machine) may take one, and the member that cannot
// listen exits ("server not ready"). Such a start is made again, on other
// ports, up to three times; any other failure is returned at once.
func (s *System) startNATS(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := s.startNATSOnce(ctx)
		if err == nil || attempt == 3 || !s.natsCouldNotListen() {
			return err
		}
		s.o.Log.Warn("chaos: a NATS member could not listen on its port; starting them again on others", "err", err)
		for _, ns := range s.NATS {
			ns.Kill()
		}
		s.NATS = nil
	}
}

// natsCouldNotListen: a member exited because its port was taken.
func (s *System) natsCouldNotListen() bool {
	for _, ns := range s.NATS {
		select {
		case <-ns.Exited():
			if ns.LogContains("server not ready") > 0 {
				return true
			}
		default:
		}
	}
	return false
}

func (s *System) startNATSOnce(ctx context.Context) error {
	n := s.o.NATS
	clients, routes := make([]string, n), make([]string, n)
	for i := range n {
		var err error
		if clients[i], err = freePort(); err != nil {
			return err
		}
		if routes[i], err = freePort(); err != nil {
			return err
		}
	}
	for i := range n {
		args := []string{"--listen", clients[i], "--store", filepath.Join(s.o.Dir, fmt.Sprintf("nats%d", i)),
			"--name", fmt.Sprintf("nats%d", i), "--token-file", s.tokenFile}
		if n > 1 {
			var rs []string
			for _, r := range routes {
				rs = append(rs, "nats-route://"+r)
			}
			args = append(args, "--cluster", "chaos", "--cluster-listen", routes[i], "--routes", strings.Join(rs, ","))
		}
		name := fmt.Sprintf("nats%d", i)
		p, err := startProc(name, s.o.Bins.NATSd, args, filepath.Join(s.o.Dir, name+".log"))
		if err != nil {
			return err
		}
		s.NATS = append(s.NATS, &NATSServer{Proc: p, URL: "nats://" + clients[i]})
	}
	for _, ns := range s.NATS {
		if err := ns.WaitReady(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Restart starts the server again (on its port, with its store) and waits
// until it accepts clients.
func (ns *NATSServer) Restart(ctx context.Context) error {
	if err := ns.Proc.Restart(); err != nil {
		return err
	}
	return ns.WaitReady(ctx)
}

// WaitReady waits for the server's ready line (after a start or restart).
func (ns *NATSServer) WaitReady(ctx context.Context) error {
	_, err := ns.WaitLine(ctx, func(l string) bool { return strings.HasPrefix(l, "xrtc-natsd ready") })
	return err
}

// NATSURL lists every member's URL.
func (s *System) NATSURL() string {
	urls := make([]string, len(s.NATS))
	for i, ns := range s.NATS {
		urls[i] = ns.URL
	}
	return strings.Join(urls, ",")
}

// WaitJetStream waits until JetStream answers (on a cluster: can place a
// stream on every member), through member i (-1: the harness's
// connection, any member).
func (s *System) WaitJetStream(ctx context.Context, i int) error {
	nc := s.nc
	if i >= 0 {
		c, err := nats.Connect(s.NATS[i].URL, nats.Token(s.token))
		if err != nil {
			return err
		}
		defer c.Close()
		nc = c
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		err := jetStreamReady(actx, js, len(s.NATS))
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("chaos: JetStream not ready: %w", err)
		}
		if !pause(ctx, 50*time.Millisecond) { // polling: JetStream has no readiness event
			return ctx.Err()
		}
	}
}

// jetStreamReady reports whether JetStream answers and, on a cluster, can
// place a stream on every member (all peers are online).
func jetStreamReady(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if _, err := js.AccountInfo(ctx); err != nil || replicas <= 1 {
		return err
	}
	name := "chaos_ready_" + newToken()[:8]
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name}, Replicas: replicas,
		Storage: jetstream.MemoryStorage}); err != nil {
		return err
	}
	return js.DeleteStream(ctx, name)
}

func (s *System) startCtrl(ctx context.Context, i int) error {
	uuid := fmt.Sprintf("chaos-xctrl-%d", i+1)
	urls := s.NATSURL()
	if s.o.CtrlNATS != nil {
		var us []string
		for _, m := range s.o.CtrlNATS(i) {
			us = append(us, s.NATS[m].URL)
		}
		urls = strings.Join(us, ",")
	}
	args := append([]string{"--nats", urls, "--nats-token-file", s.tokenFile, "--ctrl-uuid", uuid,
		"--ws-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--directory", s.dirFile,
		"--default-domain", Domain, "--registry-replicas", strconv.Itoa(max(s.o.Replicas, 1)),
		"--drain-timeout", "5s"}, s.o.CtrlArgs...)
	p, err := startProc("xctrl-"+strconv.Itoa(i+1), s.o.Bins.XCtrl, args, filepath.Join(s.o.Dir, fmt.Sprintf("xctrl%d.log", i+1)))
	if err != nil {
		return err
	}
	c := &Ctrl{Proc: p, UUID: uuid}
	s.Ctrls = append(s.Ctrls, c)
	line, err := p.WaitLine(ctx, func(l string) bool { return strings.Contains(l, "websocket") })
	if err != nil {
		return err
	}
	c.WS = lastField(line)
	line, err = p.WaitLine(ctx, func(l string) bool { return strings.Contains(l, "metrics") })
	if err != nil {
		return err
	}
	c.Metrics = lastField(line)
	c.Health = strings.TrimSuffix(c.Metrics, "/metrics") + "/healthz"
	return nil
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

func (s *System) startNode(ctx context.Context, uuid string) error {
	args := append([]string{"--nats", s.NATSURL(), "--nats-token-file", s.tokenFile, "--node-uuid", uuid}, s.o.NodeArgs...)
	p, err := startProc(uuid, s.o.Bins.Node, args, filepath.Join(s.o.Dir, uuid+".log"))
	if err != nil {
		return err
	}
	n := &Node{Proc: p, UUID: uuid}
	s.Nodes = append(s.Nodes, n)
	_, err = p.WaitLine(ctx, func(l string) bool { return strings.HasSuffix(l, " ready") })
	return err
}

// healthz is one /healthz answer: the status code and the body.
func (c *Ctrl) healthz(ctx context.Context) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Health, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// Healthy reports whether /healthz answers 200 now.
func (c *Ctrl) Healthy(ctx context.Context) bool {
	code, _, err := c.healthz(ctx)
	return err == nil && code == http.StatusOK
}

// WaitHealthy polls /healthz (an HTTP endpoint: there is no event to wait
// on) until it answers 200 with at least nodes live nodes.
func (c *Ctrl) WaitHealthy(ctx context.Context, nodes int) error {
	want := fmt.Sprintf("nodes=%d", nodes)
	last := ""
	for {
		code, body, err := c.healthz(ctx)
		if err == nil && code == http.StatusOK && liveNodes(body) >= nodes {
			return nil
		}
		last = fmt.Sprintf("%d %s %v", code, body, err)
		select {
		case <-c.Exited():
			return fmt.Errorf("chaos: %s exited; see %s", c.Name, c.LogFile())
		default:
		}
		if !pause(ctx, 20*time.Millisecond) {
			return fmt.Errorf("chaos: %s not healthy with %s (last: %s)", c.Name, want, last)
		}
	}
}

func liveNodes(body string) int {
	for _, f := range strings.Fields(body) {
		if v, ok := strings.CutPrefix(f, "nodes="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return -1
}

// RSS is the resident memory of a process in bytes (Linux; 0 elsewhere).
func RSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Originate has node place a call to a WebRTC user (the node's originate
// of xrtc/<login>), playing app once answered; it returns when the user
// answered or the call failed.
func (n *Node) Originate(ctx context.Context, login, app string) error {
	tag := strconv.FormatInt(n.seq.Add(1), 10)
	if err := n.Send(fmt.Sprintf("originate %s xrtc/%s %s", tag, login, app)); err != nil {
		return err
	}
	prefix := "originate " + tag + " "
	line, err := n.WaitLine(ctx, func(l string) bool { return strings.HasPrefix(l, prefix) })
	if err != nil {
		return err
	}
	if rest := strings.TrimPrefix(line, prefix); !strings.HasPrefix(rest, "ok ") {
		return fmt.Errorf("originate %s: %s", login, rest)
	}
	return nil
}

// LeadOn makes member i the leader of a stream's replicas (stepping the
// leader down with member i preferred, until it is).
func (s *System) LeadOn(ctx context.Context, stream string, i int) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("nats%d", i)
	req := []byte(`{"placement":{"preferred":"` + name + `"}}`)
	for {
		st, err := js.Stream(ctx, stream)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = st.Info(ctx); err == nil && info.Cluster != nil && info.Cluster.Leader == name {
				return nil
			}
			if err == nil {
				_, err = s.nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, req)
			}
		}
		if !pause(ctx, 100*time.Millisecond) { // polling the leader: no event says it moved
			return fmt.Errorf("chaos: %s not led by %s: %v", stream, name, err)
		}
	}
}

// Token is the NATS token of the system's servers.
func (s *System) Token() string { return s.token }

// Connect opens a new connection to the system's NATS, with its token.
func (s *System) Connect() (*nats.Conn, error) {
	return nats.Connect(s.NATSURL(), nats.Token(s.token), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
}

// CallState asks node for the state of a call ("" when it has none).
func (n *Node) CallState(ctx context.Context, uuid string) (string, error) {
	tag := strconv.FormatInt(n.seq.Add(1), 10)
	if err := n.Send("call " + tag + " " + uuid); err != nil {
		return "", err
	}
	prefix := "call " + tag + " "
	line, err := n.WaitLine(ctx, func(l string) bool { return strings.HasPrefix(l, prefix) })
	if err != nil {
		return "", err
	}
	rest := strings.TrimPrefix(line, prefix)
	if rest == "none" {
		return "", nil
	}
	var ci struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(rest), &ci); err != nil {
		return "", fmt.Errorf("call %s: %s", uuid, rest)
	}
	return ci.State, nil
}

// WaitCallState polls node (a process: no event crosses) until the call's
// state is want ("" for gone).
func (n *Node) WaitCallState(ctx context.Context, uuid, want string) error {
	for {
		st, err := n.CallState(ctx, uuid)
		if err == nil && st == want {
			return nil
		}
		if !pause(ctx, 100*time.Millisecond) {
			return fmt.Errorf("call %s on %s: state %q, want %q: %v", uuid, n.UUID, st, want, ctx.Err())
		}
	}
}

// Registry reads the registry bucket: the sockets every instance
// registered, by sessid. It never creates the bucket.
func (s *System) Registry(ctx context.Context) (map[string]ctrl.RegEntry, error) {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, registryBucket)
	if err != nil {
		return nil, err
	}
	w, err := kv.Watch(ctx, "u.>", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	out := map[string]ctrl.RegEntry{}
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return out, nil
			}
			var re ctrl.RegEntry
			if json.Unmarshal(e.Value(), &re) == nil {
				out[re.Sessid] = re
			}
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// WaitRegistry polls the registry (a bucket read: there is no event) until
// it holds every socket of want (sessid -> ctrl_uuid), and returns the
// missing ones if ctx ends first.
func (s *System) WaitRegistry(ctx context.Context, want map[string]string) (missing int, err error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, err := s.Registry(rctx)
		cancel()
		missing = 0
		for sid, c := range want {
			if got[sid].CtrlUUID != c {
				missing++
			}
		}
		if err == nil && missing == 0 {
			return 0, nil
		}
		if !pause(ctx, 100*time.Millisecond) {
			if err == nil {
				err = ctx.Err()
			}
			return missing, err
		}
	}
}

// Request sends a NATS request as a peer on the bus would (the hostile
// scenarios) and decodes the reply.
func (s *System) Request(ctx context.Context, subject string, m *verto.Message) (*verto.Message, error) {
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	rm, err := s.nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		return nil, err
	}
	return verto.DecodeMessage(rm.Data, verto.Limits{})
}

// Publish sends a NATS message as a peer on the bus would.
func (s *System) Publish(subject string, m *verto.Message) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := s.nc.Publish(subject, b); err != nil {
		return err
	}
	return s.nc.Flush()
}

// User returns a directory user nobody used yet in this system.
func (s *System) User() string {
	n := s.users.Add(1) - 1
	if int(n) >= s.o.Users {
		s.log.Warn("chaos: more users wanted than the directory has", "users", s.o.Users)
	}
	return fmt.Sprintf("u%d@%s", n, Domain)
}

// Close stops every process (SIGTERM, then SIGKILL after a grace) and the
// harness's connection.
func (s *System) Close() {
	if s.nc != nil {
		s.nc.Close()
	}
	var wg sync.WaitGroup
	stop := func(p *Proc) {
		defer wg.Done()
		if p.cmd == nil {
			return
		}
		_ = p.Term(10 * time.Second)
	}
	for _, n := range s.Nodes {
		wg.Add(1)
		go stop(n.Proc)
	}
	wg.Wait()
	for _, c := range s.Ctrls {
		wg.Add(1)
		go stop(c.Proc)
	}
	wg.Wait()
	for _, ns := range s.NATS {
		wg.Add(1)
		go stop(ns.Proc)
	}
	wg.Wait()
}

// Logs lists the processes' log files.
func (s *System) Logs() []string {
	var out []string
	for _, ns := range s.NATS {
		out = append(out, ns.LogFile())
	}
	for _, c := range s.Ctrls {
		out = append(out, c.LogFile())
	}
	for _, n := range s.Nodes {
		out = append(out, n.LogFile())
	}
	return out
}

// OffTheBus counts the log lines in which an XCtrl or a node says NATS
// closed its connection for good (something it sent made the server drop
// it).
func (s *System) OffTheBus() int {
	n := 0
	for _, c := range s.Ctrls {
		n += c.LogContains("closed for good")
	}
	for _, nd := range s.Nodes {
		n += nd.LogContains("closed for good")
	}
	return n
}

// pause waits d or until ctx ends (false). It paces polling and retries,
// never synchronisation.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
