package verto

import "testing"

func TestAPIPermissions(t *testing.T) {
	p := &APIPermissions{AllowedJSAPI: []string{"fsapi", "FSV"}, AllowedFSAPI: []string{"status", "bgapi", "expand"}}
	for _, tc := range []struct {
		cmd, arg string
		ok       bool
	}{
		{"status", "", true},
		{"Status", "", true},
		{"show", "", false},
		{"bgapi", "status", true},
		{"bgapi", "show channels", false},
		{"bgapi", "expand bgapi status", true},
		{"bgapi", "bgapi bgapi bgapi", true}, // mod_verto loops forever here; every word is checked once
		{"bgapi", "bgapi bgapi show", false},
		{"bgapi", "status  show", true}, // status runs, with its argument
		{"expand", " status", false},    // an empty first word is not a command anyone listed
	} {
		if got := p.FSAPIAllowed(tc.cmd, tc.arg); got != tc.ok {
			t.Errorf("fsapi %q %q = %v", tc.cmd, tc.arg, got)
		}
	}
	for s, ok := range map[string]bool{
		`{"command":"fsv"}`:        true,
		`{"command":"FSV"}`:        true,
		`{"command":"fsv.status"}`: false, // by name, as mod_verto's event header lookup
		`{"command":"other"}`:      false,
		`{"command":7}`:            true, // no command: the JSON API refuses it
		`{}`:                       true,
		`{"command":"fsapi","data":{"cmd":"status"}}`:                true,
		`{"command":"fsapi","data":{"cmd":"show"}}`:                  false,
		`{"command":"fsapi","data":{"cmd":"bgapi","arg":"show x"}}`:  false,
		`{"command":"fsapi","data":{"cmd":"bgapi","arg":7}}`:         true, // a non-string arg is none: bgapi alone
		`{"command":"fsapi","data":{"cmd":["show"]}}`:                true, // not a string: fsapi refuses it
		`{"command":"fsapi","data":"status"}`:                        true,
		`{"command":"fsapi","data":{"cmd":"expand","arg":"status"}}`: true,
	} {
		o, err := ParseObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.JSAPIAllowed(o); got != ok {
			t.Errorf("jsapi %s = %v", s, got)
		}
	}
	o, _ := ParseObject([]byte(`{"command":"anything","data":{"cmd":"show"}}`))
	for _, any := range []*APIPermissions{nil, {}, {AllowedFSAPI: []string{}}} {
		if !any.JSAPIAllowed(o) {
			t.Errorf("%+v: a nil jsapi list allows everything", any)
		}
	}
	if (&APIPermissions{AllowedFSAPI: []string{}}).FSAPIAllowed("status", "") {
		t.Error("an empty fsapi list allows nothing")
	}
	if !(&APIPermissions{AllowedJSAPI: []string{}}).FSAPIAllowed("status", "") {
		t.Error("a nil fsapi list allows everything")
	}
}
