package loadgen

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
)

// EchoHandler is the raw WebSocket echo the relay benchmarks time XCtrl
// against: each message written back as it came, with the WebSocket library
// the clients use.
func EchoHandler() http.Handler {
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, m, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, m) != nil {
				return
			}
		}
	})
}

// RawTimes are the relay benchmarks' baseline, one round after the other
// (Round): the NATS round trip, the WebSocket echo, and the two together,
// the raw operation a relay is set against.
type RawTimes struct{ NATS, WS, Raw []time.Duration }

// Round times the baseline once: a NATS request/reply of msg on subject,
// then a WebSocket echo of frame on ws.
func (r *RawTimes) Round(nc *nats.Conn, subject string, msg []byte, ws *websocket.Conn, frame []byte) error {
	t0 := time.Now()
	if _, err := nc.Request(subject, msg, 5*time.Second); err != nil {
		return err
	}
	t1 := time.Now()
	if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		return err
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		return err
	}
	natsT, wsT := t1.Sub(t0), time.Since(t1)
	r.NATS, r.WS, r.Raw = append(r.NATS, natsT), append(r.WS, wsT), append(r.Raw, natsT+wsT)
	return nil
}

// RelayRatios reports through report (testing.B.ReportMetric) relay over
// raw at p10, median and p90, as name-p10, name-median and name-p90: the
// relay and its raw baseline are both right-skewed, and the three show the
// ratio is not an artefact of one quantile.
func RelayRatios(report func(float64, string), name string, relay, raw []time.Duration) {
	for _, q := range []struct {
		name string
		f    float64
	}{{"p10", 0.1}, {"median", 0.5}, {"p90", 0.9}} {
		report(float64(Quantile(relay, q.f))/float64(Quantile(raw, q.f)), name+"-"+q.name)
	}
}

// Rounds runs each of ops once a round, n rounds, in a new random order each
// round (the same orders every run). Timed side by side, operations that
// always ran in one order would each always follow the same one, and a
// round trip costs more when it wakes a thread or a process that has slept
// longer: on two cores that alone put one 40 to 60 µs above another that
// costs the same.
func Rounds(n int, ops ...func()) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		for _, i := range rng.Perm(len(ops)) {
			ops[i]()
		}
	}
}
