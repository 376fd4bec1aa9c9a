package conf

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
)

func TestEffective(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "valid", "full.conf.xml"))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Effective()
	if len(e.Profiles) != 2 || len(e.Settings) != 19 {
		t.Fatalf("effective %+v", e)
	}
	find := func(ps []EffectiveParam, name string) EffectiveParam {
		for _, p := range ps {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no %s", name)
		return EffectiveParam{}
	}
	for _, tc := range []struct {
		params []EffectiveParam
		name   string
		value  any
		set    bool
	}{
		{e.Settings, "debug", int64(3), true},
		{e.Settings, "detach-timeout-sec", int64(60), true},
		{e.Settings, "nats-url", []string{"nats://10.0.0.1:4222", "nats://10.0.0.2:4222"}, true},
		{e.Profiles[0].Params, "media-timeout", int64(30000), true},
		{e.Profiles[0].Params, "rtp-ip", []string{"$${local_ip_v4}", "192.168.1.10"}, true},
		{e.Profiles[0].Params, "force-register-domain", "$${domain}", true},
		{e.Profiles[1].Params, "media-hold-timeout", int64(0), false},
		{e.Profiles[1].Params, "detach-timeout-sec", int64(60), false},
		{e.Profiles[1].Params, "inbound-codec-string", []string{"opus", "vp8"}, false},
		{e.Profiles[1].Params, "apply-candidate-acl", []string{}, false},
	} {
		p := find(tc.params, tc.name)
		if !reflect.DeepEqual(p.Value, tc.value) || p.Set != tc.set {
			t.Errorf("%s = %#v (set %v), want %#v (set %v)", tc.name, p.Value, p.Set, tc.value, tc.set)
		}
	}
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		File     string
		Settings map[string]any
		Profiles []struct {
			Name   string
			Params map[string]any
		}
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if back.Settings["enable-fs-events"] != true || back.Profiles[1].Name != "webrtc-v6" ||
		back.Profiles[1].Params["xrtc-ctrl-subject"] != "cn.xswitch.ctrl.rtc.v6" {
		t.Errorf("json %s", data)
	}
	// An int param holding a reference shows the reference.
	c2, err := Parse("x", []byte(`<configuration name="xcc-rtc.conf"><profiles><profile name="default"><param name="rtp-ip" value="::1"/><param name="media-timeout" value="$${mt}"/></profile></profiles></configuration>`))
	if err != nil {
		t.Fatal(err)
	}
	if v := find(c2.Effective().Profiles[0].Params, "media-timeout").Value; v != "$${mt}" {
		t.Errorf("unresolved media-timeout shows %#v", v)
	}
}
