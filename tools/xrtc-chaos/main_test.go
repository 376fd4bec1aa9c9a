package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"xccrtc/tools/e2e/chaos"
)

func TestListAndBadNames(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--list"}, &out, &errb); code != 0 {
		t.Fatalf("--list: exit %d: %s", code, errb.String())
	}
	for _, sc := range chaos.Scenarios() {
		if !strings.Contains(out.String(), sc.Name) {
			t.Errorf("--list lacks %s", sc.Name)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"--scenarios", "no-such"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "no-such") {
		t.Fatalf("unknown scenario: exit %d: %s", code, errb.String())
	}
}
