package ctrl_test

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"xccrtc/ctrl"
	"xccrtc/ctrl/internal/ctrltest"
)

// TestMetricNames: every family follows Prometheus naming (counters end in
// _total, the histogram in _seconds) and the Go and process collectors are
// there.
func TestMetricNames(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	x := e.StartCtrl(nil)
	mfs, err := x.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		seen[name] = true
		if !strings.HasPrefix(name, "xctrl_") {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		case dto.MetricType_HISTOGRAM:
			if !strings.HasSuffix(name, "_seconds") {
				t.Errorf("histogram %s does not end in _seconds", name)
			}
		}
	}
	for _, want := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes",
		"process_resident_memory_bytes", "process_open_fds", "xctrl_sockets", "xctrl_logins_total", "xctrl_calls",
		"xctrl_relayed_total", "xctrl_relay_seconds", "xctrl_nodes_alive", "xctrl_bad_frames_total",
		"xctrl_rate_limited_total", "xctrl_slow_clients_dropped_total", "xctrl_node_timeouts_total", "xctrl_pending_requests",
		"xctrl_send_queued_bytes", "xctrl_invites_rate_limited_total"} {
		if !seen[want] {
			t.Errorf("no metric %s", want)
		}
	}
}

// TestPprofFlag: /debug/pprof/ on the metrics listener only when asked for.
func TestPprofFlag(t *testing.T) {
	e := ctrltest.New(t, ctrltest.Options{})
	off := e.StartCtrl(nil)
	on := e.StartCtrl(func(c *ctrl.Config) { c.Pprof = true })
	if code, _ := get(t, "http://"+off.MetricsAddr()+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("pprof off: /debug/pprof/ answered %d, want 404", code)
	}
	if code, body := get(t, "http://"+on.MetricsAddr()+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof on: /debug/pprof/ answered %d", code)
	}
	if code, _ := get(t, "http://"+on.MetricsAddr()+"/debug/pprof/heap?debug=1"); code != http.StatusOK {
		t.Errorf("pprof on: heap profile answered %d", code)
	}
	if code, _ := get(t, "http://"+on.WSAddr()+"/debug/pprof/"); code == http.StatusOK {
		t.Error("pprof is served on the WebSocket listener")
	}
}
