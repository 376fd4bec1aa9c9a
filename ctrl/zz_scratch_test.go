package ctrl_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestScratchRejoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	var urls, routes []string
	for i := range 3 {
		urls = append(urls, fmt.Sprintf("127.0.0.1:%d", 25000+i))
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", 26000+i))
	}
	mk := func(i int) *exec.Cmd {
		c := exec.Command("/tmp/xb/xrtc-natsd", "--listen", urls[i], "--store", fmt.Sprintf("%s/s%d", dir, i), "--name", fmt.Sprintf("n%d", i), "--open",
			"--cluster", "c", "--cluster-listen", fmt.Sprintf("127.0.0.1:%d", 26000+i), "--routes", strings.Join(routes, ","))
		c.Stderr = os.Stderr
		c.Start()
		return c
	}
	cmds := []*exec.Cmd{mk(0), mk(1), mk(2)}
	defer func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}()
	nc, err := nats.Connect("nats://"+urls[1]+",nats://"+urls[2], nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var kv jetstream.KeyValue
	for {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b", Replicas: 3, Storage: jetstream.FileStorage, TTL: time.Minute})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		kv.Put(ctx, fmt.Sprintf("u.a%d.x", i), []byte("v"))
	}
	victim := 0
	cmds[victim].Process.Kill()
	cmds[victim].Wait()
	t0 := time.Now()
	n := 0
	for n < 40 {
		c, cc := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := kv.Put(c, fmt.Sprintf("u.b%d.x", n), []byte("v"))
		cc()
		if err == nil {
			n++
		}
	}
	t.Logf("40 writes after the kill in %.2fs", time.Since(t0).Seconds())
	cmds[victim] = mk(victim)
	t1 := time.Now()
	bad := 0
	for i := 0; i < 200; i++ {
		k := fmt.Sprintf("u.b%d.*", i%40)
		c, cc := context.WithTimeout(ctx, 2*time.Second)
		w, err := kv.Watch(c, k, jetstream.IgnoreDeletes())
		got := 0
		if err == nil {
		loop:
			for {
				select {
				case e := <-w.Updates():
					if e == nil {
						break loop
					}
					got++
				case <-c.Done():
					err = c.Err()
					break loop
				}
			}
			w.Stop()
		}
		cc()
		if got != 1 || err != nil {
			bad++
			t.Logf("%5.2fs watch %s: %d entries, %v", time.Since(t1).Seconds(), k, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("bad %d of 200", bad)
}
