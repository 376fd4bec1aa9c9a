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
