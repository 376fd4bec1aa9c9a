package conf

import (
	"fmt"
	"strings"
)

// sampleValues are the params written active (not commented out) in Sample,
// with their value; every other applicable param is shown commented out with
// its default or an example.
var sampleValues = map[Scope]map[string]string{
	ScopeSettings: {"debug": "0"},
	ScopeProfile: {
		"xrtc-ctrl-subject":     "cn.xswitch.ctrl.rtc",
		"media-timeout":         "30000",
		"context":               "default",
		"dialplan":              "XML",
		"rtp-ip":                "$${local_ip_v4}",
		"ext-rtp-ip":            "$${external_rtp_ip}",
		"local-network":         "localnet.auto",
		"outbound-codec-string": "opus,vp8",
		"apply-candidate-acl":   "wan_v4.auto",
		"timer-name":            "soft",
		"force-register-domain": "$${domain}",
	},
}

// Sample returns a fresh, commented xcc-rtc.conf.xml with a "default"
// profile: every parameter is listed with its meaning, type and default, the
// usual ones active. It validates without problems.
func Sample() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<!--
  xcc-rtc.conf.xml: configuration of the xrtc endpoint module.
  Written by "xrtc-conf init"; check edits with "xrtc-conf validate".
  $${name} is a FreeSWITCH global variable (vars.xml), expanded on load.
  Commented-out params show their default or an example value.
-->
<configuration name="xcc-rtc.conf" description="XCC RTC">
  <settings>
`)
	writeSampleParams(&b, ScopeSettings, "    ")
	b.WriteString(`  </settings>

  <profiles>
    <!-- dial strings without a profile (xrtc/user@domain) use "default" -->
    <profile name="default">
`)
	writeSampleParams(&b, ScopeProfile, "      ")
	b.WriteString(`    </profile>
  </profiles>
</configuration>
`)
	return []byte(b.String())
}

func writeSampleParams(b *strings.Builder, scope Scope, indent string) {
	for _, s := range specs {
		if s.Scope != scope || s.NotApplicable != "" {
			continue
		}
		def := "unset"
		if s.Default != "" {
			def = "default: " + s.Default
		}
		rep := ""
		if s.Repeatable {
			rep = ", repeatable"
		}
		fmt.Fprintf(b, "%s<!-- %s (%s%s, %s) -->\n", indent, s.Doc, s.Kind, rep, def)
		if v, ok := sampleValues[scope][s.Name]; ok {
			fmt.Fprintf(b, "%s<param name=%q value=%q/>\n", indent, s.Name, v)
			continue
		}
		v := s.Default
		if v == "" {
			v = s.Example
		}
		fmt.Fprintf(b, "%s<!-- <param name=%q value=%q/> -->\n", indent, s.Name, v)
	}
}
