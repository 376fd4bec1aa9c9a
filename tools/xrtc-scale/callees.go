package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xccrtc/tools/client"
)

// runCallees is the child holding the called users: callee<i> logs in on
// URL i%len(urls) and answers every call with a 600 Hz tone. It prints
// "ready" once all are logged in; "report" answers "<answered> answered,
// <n> with media back"; stdin's end hangs up and exits.
func runCallees(args []string) int {
	fs := flag.NewFlagSet("callees", flag.ExitOnError)
	urls := fs.String("urls", "", "")
	count := fs.Int("count", 200, "")
	_ = fs.Parse(args)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := bufio.NewWriter(os.Stdout)
	list := strings.Split(*urls, ",")
	clients := make([]*client.Client, *count)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	sem := make(chan struct{}, 20)
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			dctx, dcancel := context.WithTimeout(ctx, 60*time.Second)
			defer dcancel()
			c, err := client.Dial(dctx, client.Options{URL: list[i%len(list)], Login: fmt.Sprintf("callee%d@%s", i, domain),
				Passwd: password, Settings: client.LoopbackSettings(), RequestTimeout: 30 * time.Second})
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			clients[i] = c
		}(i)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Fprintf(out, "error %v\n", err)
		out.Flush()
		return 1
	}
	var answered, media atomic.Int64
	var calls sync.WaitGroup
	for _, c := range clients {
		calls.Add(1)
		go func(c *client.Client) {
			defer calls.Done()
			for call := range c.Incoming() {
				if err := call.Answer(ctx, client.CallOptions{Audio: client.Tone(600)}); err != nil {
					continue
				}
				answered.Add(1)
				go func() {
					if call.WaitReceived(ctx, 100) == nil {
						media.Add(1)
					}
				}()
			}
		}(c)
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "report" {
			fmt.Fprintf(out, "%d answered, %d with media back\n", answered.Load(), media.Load())
			out.Flush()
		}
	}
	cancel()
	for _, c := range clients {
		c.Close()
	}
	calls.Wait()
	return 0
}
