package ctrltest

import (
	"context"
	"testing"

	"xccrtc/verto"
)

// Browser is a Client bound to a test: every wait fails the test instead of
// returning an error.
type Browser struct {
	*Client
	t   testing.TB
	ctx context.Context
}

// Call sends a request and returns its reply.
func (b *Browser) Call(method string, params map[string]any) *verto.Message {
	b.t.Helper()
	return b.must(b.Client.Call(b.ctx, method, params))
}

// Reply waits for the reply with id.
func (b *Browser) Reply(id int64) *verto.Message {
	b.t.Helper()
	return b.must(b.Client.Reply(b.ctx, id))
}

// Expect waits for a server request with method.
func (b *Browser) Expect(method string) *verto.Message {
	b.t.Helper()
	return b.must(b.Client.Expect(b.ctx, method))
}

// ExpectCall waits for a server request with method about callID.
func (b *Browser) ExpectCall(method, callID string) *verto.Message {
	b.t.Helper()
	return b.must(b.Client.ExpectCall(b.ctx, method, callID))
}

// Login logs in (verto.js's sequence) and returns the login reply and
// verto.clientReady.
func (b *Browser) Login(login, passwd string, loginParams map[string]any) (*verto.Message, *verto.Message) {
	b.t.Helper()
	res, ready, err := b.Client.Login(b.ctx, login, passwd, loginParams)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, ready
}

// Closed waits until the server closes the socket; it returns the close
// code (0 without a close frame).
func (b *Browser) Closed() int {
	b.t.Helper()
	ce, err := b.Client.Closed(b.ctx)
	if err != nil {
		b.t.Fatalf("socket still open: %v (queued: %s)", err, b.Pending())
	}
	if ce == nil {
		return 0
	}
	return ce.Code
}

// Invite sends verto.invite for callID to dest and returns the request id.
func (b *Browser) Invite(callID, dest string, extra map[string]any) int64 {
	p := map[string]any{"sdp": "v=0 offer", "dialogParams": map[string]any{"callID": callID, "destination_number": dest}}
	for k, v := range extra {
		p[k] = v
	}
	return b.Send(verto.MethodInvite, p)
}

// CallParams are params of a call method about callID.
func CallParams(callID string, extra map[string]any) map[string]any {
	p := map[string]any{"dialogParams": map[string]any{"callID": callID}}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func (b *Browser) must(m *verto.Message, err error) *verto.Message {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	return m
}

// Next waits for the first queued message that match accepts.
func (b *Browser) Next(match func(*verto.Message) bool) *verto.Message {
	b.t.Helper()
	return b.must(b.Client.Next(b.ctx, match))
}
