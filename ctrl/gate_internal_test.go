package ctrl

import (
	"net"
	"net/netip"
	"sync"
	"testing"
)

// The gate's books balance: however connections from several addresses
// are admitted, logged in and closed (twice, some of them), from many
// goroutines, nothing stays counted once all are closed, and no address
// ever holds more than its bound.
func TestGateBooksBalance(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	g := newGate(1000, 5, nil)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted int
	)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%4))}}
			c, err := d.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
		}()
	}
	conns := make(chan *net.TCPConn, 200)
	go func() {
		for i := 0; i < 200; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c.(*net.TCPConn)
		}
		close(conns)
	}()
	var workers sync.WaitGroup
	i := 0
	for c := range conns {
		i++
		workers.Add(1)
		go func(c *net.TCPConn, n int) {
			defer workers.Done()
			peer := netip.MustParseAddr(c.RemoteAddr().(*net.TCPAddr).IP.String())
			sc := g.admit(c, peer, false)
			if sc == nil {
				return
			}
			mu.Lock()
			admitted++
			mu.Unlock()
			g.mu.Lock()
			if g.pre[peer] > g.perAddr {
				t.Errorf("%s holds %d pre-login slots, bound %d", peer, g.pre[peer], g.perAddr)
			}
			g.mu.Unlock()
			if n%2 == 0 {
				sc.loggedIn()
			}
			_ = sc.Close()
			if n%3 == 0 {
				_ = sc.Close()
			}
		}(c, i)
	}
	workers.Wait()
	wg.Wait()
	if admitted == 0 {
		t.Fatal("nothing admitted")
	}
	if n := g.open.Load(); n != 0 {
		t.Errorf("%d connections still counted open", n)
	}
	if len(g.pre) != 0 {
		t.Errorf("pre-login slots still held: %v", g.pre)
	}
}
