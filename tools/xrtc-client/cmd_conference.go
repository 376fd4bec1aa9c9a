package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"xccrtc/tools/client"
)

// conferenceReport is the report of the conference command: the call's
// report plus the conference and its last member list.
type conferenceReport struct {
	client.Report
	Conference *client.ConferenceInfo `json:"conference,omitempty"`
	Members    []client.Member        `json:"members"`     // the list when the run ended
	MaxMembers int                    `json:"max_members"` // the most members seen at once
	ChatsSeen  int                    `json:"chats_seen"`
}

func runConference(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("conference", flag.ContinueOnError)
	var cf commonFlags
	var mf mediaFlags
	var ef expectFlags
	cf.register(fs)
	mf.register(fs, true)
	ef.register(fs)
	chat := fs.String("chat", "", "send this chat `MESSAGE` once the member list is known")
	joinTimeout := fs.Duration("join-timeout", 10*time.Second, "how long to wait for the conference join event")
	pos, code := parseArgs(fs, args, "conference DEST", 1, stdout, stderr)
	if code >= 0 {
		return code
	}
	dest := pos[0]
	con, opts, copts, ok := setupCall("conference", &cf, &mf, &ef, stdout, stderr)
	if !ok {
		return exitUsage
	}

	c, err := client.Dial(ctx, opts)
	if err != nil {
		con.errorf("%v", err)
		r := conferenceReport{Report: failedReport(dest, err)}
		output(con, cf.json, r, r.Report.String())
		return exitFor(ef.verdict(con, r.Report))
	}
	defer c.Close()
	call, err := c.Call(ctx, dest, copts)
	if err != nil {
		con.errorf("%v", err)
		r := conferenceReport{Report: failedReport(dest, err)}
		output(con, cf.json, r, r.Report.String())
		return exitFor(ef.verdict(con, r.Report))
	}
	if err := call.WaitAnswered(ctx); err != nil {
		if ctx.Err() != nil {
			hangup(call, con)
		}
		<-call.Done()
		r := conferenceReport{Report: call.Report()}
		output(con, cf.json, r, r.Report.String())
		return exitFor(ef.verdict(con, r.Report))
	}

	jctx, cancel := context.WithTimeout(ctx, *joinTimeout)
	conf, err := call.WaitConference(jctx)
	cancel()
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		chats      int
		maxMembers int
	)
	if err != nil {
		con.errorf("no conference join event for %s (%v): following it as a plain call", dest, err)
	} else {
		info := conf.Info()
		con.eventf("in conference %s as member %s (%s); liveArray %s", info.Name, info.MemberID, orDash(info.Role), info.LAChannel)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case ms := <-conf.Updates():
					mu.Lock()
					maxMembers = max(maxMembers, len(ms))
					mu.Unlock()
					con.eventf("%s", memberTable(ms))
				case m := <-conf.Chat():
					mu.Lock()
					chats++
					mu.Unlock()
					con.eventf("chat from %s: %s", firstNonEmpty(m.FromDisplay, m.From), m.Message)
				case <-call.Done():
					return
				}
			}
		}()
		if *chat != "" {
			wctx, cancel := context.WithTimeout(ctx, *joinTimeout)
			if _, err := conf.WaitMembers(wctx, func([]client.Member) bool { return true }); err != nil {
				con.errorf("no member list: %v", err)
			}
			cancel()
			if err := conf.SendChat(ctx, *chat); err != nil {
				con.errorf("chat: %v", err)
			}
		}
	}
	follow(ctx, c, call, &mf, con)
	wg.Wait()
	r := conferenceReport{Report: call.Report()}
	text := r.Report.String()
	if conf != nil {
		info := conf.Info()
		r.Conference = &info
		r.Members = conf.Members()
		mu.Lock()
		r.ChatsSeen, r.MaxMembers = chats, max(maxMembers, len(r.Members))
		mu.Unlock()
		text += memberTable(r.Members)
	}
	output(con, cf.json, r, text)
	return exitFor(ef.verdict(con, r.Report))
}

// memberTable prints a member list, one member a line.
func memberTable(ms []client.Member) string {
	var b strings.Builder
	fmt.Fprintf(&b, "members (%d):\n", len(ms))
	for _, m := range ms {
		var flags []string
		for _, f := range []struct {
			on   bool
			name string
		}{{m.Talking, "talking"}, {m.Muted, "muted"}, {m.Deaf, "deaf"}, {m.Held, "held"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
		fmt.Fprintf(&b, "  %-6s %-12s %-20s %-12s %s\n", m.ID, m.Number, m.Name, m.Codec, strings.Join(flags, ","))
	}
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
