//go:build freeswitch

package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"xccrtc/conf"
	"xccrtc/ctrl"
	"xccrtc/tools/client"
	"xccrtc/verto"
)

// ghostUser is a user only this FreeSWITCH knows: added to its directory
// after it started, then `reloadxml`.
const ghostUser = `<include>
  <user id="xrtcghost" number-alias="7700">
    <params>
      <param name="password" value="boo"/>
    </params>
    <variables>
      <variable name="user_context" value="haunted"/>
      <variable name="accountcode" value="ghost"/>
    </variables>
  </user>
</include>
`

// TestUserLookup: mod_xrtc answers xrtc.lookupUser with FreeSWITCH's own
// user lookup, and XCtrl with --user-lookup node logs in a user only
// FreeSWITCH knows.
func TestUserLookup(t *testing.T) {
	f := startFreeSWITCH(t, xrtcConf)
	file := filepath.Join(f.dir, "conf", "directory", "default", "xrtc-ghost.xml")
	if err := os.WriteFile(file, []byte(ghostUser), 0o644); err != nil {
		t.Fatal(err)
	}
	f.mustCLI("reloadxml")
	status, err := f.nc.SubscribeSync(verto.DefaultSubjects().Status())
	if err != nil {
		t.Fatal(err)
	}
	f.mustCLI("load mod_xrtc")
	reg := nextMethod(t, status, verto.MethodNodeRegister, 10*time.Second)
	_ = status.Unsubscribe()
	var node verto.Node
	if err := json.Unmarshal(reg.Params, &node); err != nil {
		t.Fatal(err)
	}
	const domain = "127.0.0.1" // the installed test configuration's vars.xml
	stockPassword := directoryPassword(t, f)

	ask := func(id, passwd string) verto.LookupUserResult {
		t.Helper()
		p := verto.LookupUserParams{ID: id, Domain: domain}
		if passwd != "" {
			p.A1 = conf.A1Hash(id, domain, passwd)
		}
		m, _ := verto.NewRequest(verto.StringID("1"), verto.MethodXrtcLookupUser, p)
		b, _ := m.Marshal()
		rep, err := f.nc.Request(verto.DefaultSubjects().AnyNode(), b, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		rm, err := verto.DecodeMessage(rep.Data, verto.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		var res verto.LookupUserResult
		if err := rm.DecodeResult(&res); err != nil {
			t.Fatalf("%s: %v (%s)", id, err, rep.Data)
		}
		t.Logf("%s: %s", id, rep.Data)
		return res
	}
	r := ask("xrtcghost", "boo")
	if r.Verdict != verto.LookupOK || r.NodeUUID != node.UUID || r.User == nil || r.User.ID != "xrtcghost" ||
		r.User.Variables["user_context"] != "haunted" {
		t.Fatalf("ghost: %+v", r)
	}
	for _, p := range r.User.Params {
		if p.Name == "password" {
			t.Errorf("the password travelled: %+v", r.User.Params)
		}
	}
	methods := ""
	for _, p := range r.User.Params {
		if p.Name == conf.ParamAllowedMethods {
			methods = p.Value
		}
	}
	if methods != "verto" {
		t.Errorf("the domain's jsonrpc-allowed-methods is not merged in: %+v", r.User.Params)
	}
	if r := ask("7700", "boo"); r.Verdict != verto.LookupOK || r.User.ID != "xrtcghost" {
		t.Errorf("by number-alias: %+v", r)
	}
	if r := ask("1000", stockPassword); r.Verdict != verto.LookupOK || r.User.Variables["accountcode"] != "1000" {
		t.Errorf("stock 1000: %+v", r)
	}
	if r := ask("xrtcghost", "bah"); r.Verdict != verto.LookupBadPassword {
		t.Errorf("wrong password: %+v", r)
	}
	if r := ask("nobody", "boo"); r.Verdict != verto.LookupNotFound {
		t.Errorf("unknown: %+v", r)
	}

	x, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", NATSURLs: []string{f.nats.ClientURL()}, UserLookup: ctrl.UserLookupNode,
		Timers: ctrl.Timers{NodeSweep: 200 * time.Millisecond}}, ctrl.Deps{Logger: testLogger(t, "xctrl")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = x.Shutdown(context.Background()) }()
	if err := x.WaitNodes(ctx, func(ns []verto.Node) bool { return len(ns) > 0 }); err != nil {
		t.Fatal(err)
	}
	login := func(user, passwd string) error {
		c, err := client.Dial(ctx, client.Options{URL: x.WSURL(), Login: user + "@" + domain, Passwd: passwd,
			Settings: client.LoopbackSettings(), Logger: testLogger(t, "client "+user)})
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	if err := login("xrtcghost", "boo"); err != nil {
		t.Fatalf("a user only FreeSWITCH knows: %v", err)
	}
	if err := login("1001", stockPassword); err != nil {
		t.Fatalf("stock 1001: %v", err)
	}
	if err := login("xrtcghost", "bah"); err == nil {
		t.Fatal("a wrong password logged in")
	}
}
