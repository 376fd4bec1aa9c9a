package natsd

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartServesRequestsAndKV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe("ping", func(m *nats.Msg) { m.Respond([]byte("pong")) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	r, err := nc.Request("ping", nil, 2*time.Second)
	if err != nil || string(r.Data) != "pong" {
		t.Fatalf("request: %v %v", err, r)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "t", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "a.b", []byte("v")); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "a.b")
	if err != nil || string(e.Value()) != "v" {
		t.Fatalf("kv get: %v", err)
	}
}

func TestStartBadListen(t *testing.T) {
	if _, err := Start(context.Background(), Options{Listen: "nonsense"}); err == nil {
		t.Fatal("bad listen address accepted")
	}
}

// Past MaxConn a new client is refused; the ones in stay.
func TestMaxConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{Listen: "127.0.0.1:-1", NoJetStream: true, MaxConn: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var in []*nats.Conn
	for i := 0; i < 2; i++ {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatalf("client %d of 2: %v", i+1, err)
		}
		defer nc.Close()
		in = append(in, nc)
	}
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("a 3rd client was taken (MaxConn 2)")
	}
	if err := in[0].Flush(); err != nil {
		t.Fatalf("a client in: %v", err)
	}
}
