package xrtctest

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"xccrtc/verto"
)

// Ctrl is a fake XCtrl on NATS: it sends client requests to a node the way
// XCtrl relays them (ctrl_uuid, sessid and xrtc_user added) and collects
// what nodes send to cn.xswitch.ctrl.<UUID>.
type Ctrl struct {
	UUID     string
	Subjects verto.Subjects
	NC       *nats.Conn
	in       chan *verto.Message
	seq      atomic.Int64
}

// NewCtrl connects a fake XCtrl to the NATS server at url. It is closed
// when the test ends.
func NewCtrl(t TB, url, uuid string) *Ctrl {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("fake xctrl "+uuid))
	if err != nil {
		t.Fatalf("fake ctrl: connect: %v", err)
	}
	c := &Ctrl{UUID: uuid, Subjects: verto.DefaultSubjects(), NC: nc, in: make(chan *verto.Message, 4096)}
	if _, err := nc.Subscribe(c.Subjects.Ctrl(uuid), func(m *nats.Msg) {
		msg, err := verto.DecodeMessage(m.Data, verto.Limits{})
		if err != nil {
			return
		}
		if msg.Method == verto.MethodXrtcPing {
			// A node checking that this XCtrl is there: it is.
			if m.Reply != "" {
				_ = m.Respond([]byte(`{"jsonrpc":"2.0","id":` + string(mustID(msg)) + `,"result":{"message":"PONG"}}`))
			}
			return
		}
		c.in <- msg
		if m.Reply != "" {
			_ = m.Respond([]byte(`{"jsonrpc":"2.0","result":{"code":200,"message":"SENT"}}`))
		}
	}); err != nil {
		t.Fatalf("fake ctrl: subscribe: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("fake ctrl: flush: %v", err)
	}
	t.Cleanup(nc.Close)
	return c
}

// User returns the identity this ctrl asserts for a login.
func User(id, domain string) *verto.User {
	return &verto.User{Login: id + "@" + domain, ID: id, Domain: domain, CallerIDName: "User " + id, CallerIDNumber: id}
}

// Send relays a client request to subject and returns the node's reply
// (nil when none came in Wait). params get ctrl_uuid added.
func (c *Ctrl) Send(t TB, subject, method string, params map[string]any) *verto.Message {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	if _, ok := params[verto.KeyCtrlUUID]; !ok {
		params[verto.KeyCtrlUUID] = c.UUID
	}
	m, err := verto.NewRequest(verto.StringID(c.UUID+"-"+strconv.FormatInt(c.seq.Add(1), 10)), method, params)
	if err != nil {
		t.Fatalf("fake ctrl: %v", err)
	}
	b, _ := m.Marshal()
	return c.SendRaw(t, subject, b)
}

// SendRaw sends a payload as a NATS request and decodes the reply.
func (c *Ctrl) SendRaw(t TB, subject string, b []byte) *verto.Message {
	t.Helper()
	rep, err := c.NC.Request(subject, b, Wait)
	if err != nil {
		t.Fatalf("fake ctrl: request %s: %v", subject, err)
	}
	msg, err := verto.DecodeMessage(rep.Data, verto.Limits{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatalf("fake ctrl: reply %q: %v", rep.Data, err)
	}
	return msg
}

// Notify sends a notification (no id, no reply expected).
func (c *Ctrl) Notify(t TB, subject, method string, params map[string]any) {
	t.Helper()
	if params[verto.KeyCtrlUUID] == nil {
		params[verto.KeyCtrlUUID] = c.UUID
	}
	m, _ := verto.NewNotification(method, params)
	b, _ := m.Marshal()
	if err := c.NC.Publish(subject, b); err != nil {
		t.Fatalf("fake ctrl: publish: %v", err)
	}
	_ = c.NC.Flush()
}

// Next waits for the next message a node sent to this ctrl.
func (c *Ctrl) Next(t TB) *verto.Message {
	t.Helper()
	select {
	case m := <-c.in:
		return m
	case <-time.After(Wait):
		t.Fatalf("fake ctrl %s: nothing received in %s", c.UUID, Wait)
	}
	return nil
}

// Expect waits for the next message and fails unless it has method; it
// returns the message's params.
func (c *Ctrl) Expect(t TB, method string) map[string]any {
	t.Helper()
	m := c.Next(t)
	if m.Method != method {
		t.Fatalf("fake ctrl %s: got %s %s, want %s", c.UUID, m.Method, m.Params, method)
	}
	var p map[string]any
	_ = json.Unmarshal(m.Params, &p)
	return p
}

// ExpectNothing fails if a message is waiting.
func (c *Ctrl) ExpectNothing(t TB) {
	t.Helper()
	select {
	case m := <-c.in:
		t.Fatalf("fake ctrl %s: unexpected %s %s", c.UUID, m.Method, m.Params)
	default:
	}
}

// Serve answers requests on subject (queue "" = plain subscription) with
// fn's message (nil: no reply).
func (c *Ctrl) Serve(t TB, subject, queue string, fn func(m *verto.Message) *verto.Message) {
	t.Helper()
	h := func(nm *nats.Msg) {
		m, err := verto.DecodeMessage(nm.Data, verto.Limits{})
		if err != nil {
			return
		}
		if r := fn(m); r != nil && nm.Reply != "" {
			b, _ := r.Marshal()
			_ = nm.Respond(b)
		}
	}
	var err error
	if queue != "" {
		_, err = c.NC.QueueSubscribe(subject, queue, h)
	} else {
		_, err = c.NC.Subscribe(subject, h)
	}
	if err != nil {
		t.Fatalf("fake ctrl: serve %s: %v", subject, err)
	}
	_ = c.NC.Flush()
}

// Result decodes a reply's result, failing on an error reply.
func Result(t TB, m *verto.Message) map[string]any {
	t.Helper()
	if m.Error != nil {
		b, _ := m.Error.MarshalJSON()
		t.Fatalf("error reply %s", b)
	}
	var r map[string]any
	if err := json.Unmarshal(m.Result, &r); err != nil {
		t.Fatalf("result %s: %v", m.Result, err)
	}
	return r
}

// ErrorOf returns a reply's error, failing on a result.
func ErrorOf(t TB, m *verto.Message) *verto.Error {
	t.Helper()
	if m.Error == nil {
		t.Fatalf("result %s, want an error", m.Result)
	}
	return m.Error
}

func mustID(m *verto.Message) []byte {
	b, err := json.Marshal(m.ID)
	if err != nil {
		return []byte("null")
	}
	return b
}
