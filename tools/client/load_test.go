package client

import (
	"sync/atomic"
	"testing"
	"time"

	"xccrtc/tools/client/vertotest"
)

func TestLoad(t *testing.T) {
	ctx := start(t, 60*time.Second)
	srv := newServer(t, vertotest.Config{NodeUUID: "node-5",
		Users: map[string]string{"u0@example.com": "pw", "u1@example.com": "pw", "u2@example.com": "pw", "u3@example.com": "pw"}})
	var progress atomic.Int32
	var final atomic.Bool
	o := LoadOptions{
		Client:      Options{URL: srv.URL(), Login: "u{n}@example.com", Passwd: "pw", Settings: LoopbackSettings()},
		Destination: "echo",
		Concurrency: 4, Rate: 20, Duration: 1500 * time.Millisecond,
		Call:        CallOptions{ProbeInterval: 200 * time.Millisecond},
		KeepReports: true,
		Progress: func(p LoadProgress) {
			progress.Add(1)
			if p.Done {
				final.Store(true)
			}
		},
		ProgressInterval: 100 * time.Millisecond,
	}
	r, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r)
	if r.Attempted != 4 || r.Succeeded != 4 || r.Failed != 0 || r.Answered != 4 {
		t.Errorf("calls %+v", r)
	}
	if r.SetupMS.N != 4 || r.SetupMS.P50 <= 0 || r.RTPPacketsReceived == 0 || len(r.Calls) != 4 {
		t.Errorf("figures %+v", r)
	}
	if r.PeakActive == 0 || r.MemPerPCBytes == 0 {
		t.Errorf("resources: peak %d, per pc %d", r.PeakActive, r.MemPerPCBytes)
	}
	if progress.Load() < 2 || !final.Load() {
		t.Errorf("progress called %d times, final %v", progress.Load(), final.Load())
	}
}

func TestLoadFailures(t *testing.T) {
	ctx := start(t, 60*time.Second)
	srv := newServer(t, vertotest.Config{})
	o := LoadOptions{
		Client:      Options{URL: srv.URL(), Login: testUser, Passwd: testPasswd, Settings: LoopbackSettings()},
		Destination: "busy",
		Concurrency: 2, Rate: 50, Duration: time.Second, MaxCalls: 3,
	}
	r, err := Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempted != 3 || r.Failed != 3 || r.Failures["USER_BUSY"] != 3 {
		t.Errorf("report %+v", r)
	}
	o.Client.Passwd = "wrong"
	o.Destination = "echo"
	if r, _ = Load(ctx, o); r.Failures[FailLogin] != 3 {
		t.Errorf("login failures %+v", r.Failures)
	}
	if _, err := Load(ctx, LoadOptions{Client: o.Client}); err == nil {
		t.Error("no destination accepted")
	}
}

func TestPercentiles(t *testing.T) {
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	p := percentiles(v)
	if p.P50 != 50 || p.P90 != 90 || p.P99 != 99 || p.Min != 1 || p.Max != 100 || p.Mean != 50.5 || p.N != 100 {
		t.Errorf("%+v", p)
	}
	if p := percentiles(nil); p.N != 0 {
		t.Errorf("%+v", p)
	}
}
