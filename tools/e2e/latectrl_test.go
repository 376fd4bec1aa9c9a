package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"xccrtc/ctrl"
	"xccrtc/ctrl/natsd"
	"xccrtc/module/testhost"
	"xccrtc/verto"
)

// TestLateXCtrlFindsNodes: an XCtrl that starts after the node knows it at
// once, from the node's answer to XNode.CtrlStartUp, not at the node's next
// heartbeat 20 s later.
func TestLateXCtrlFindsNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ns, err := natsd.Start(ctx, natsd.Options{Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	node, err := testhost.Start(ctx, testhost.Options{NATSURL: ns.ClientURL(), NodeUUID: "late-ctrl-node", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close(context.Background())

	x, err := ctrl.New(ctrl.Config{WSListen: "127.0.0.1:0", MetricsListen: "", NATSURLs: []string{ns.ClientURL()}}, ctrl.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer x.Shutdown(context.Background())
	wait, cancelWait := context.WithTimeout(ctx, 5*time.Second)
	defer cancelWait()
	err = x.WaitNodes(wait, func(ns []verto.Node) bool {
		for _, n := range ns {
			if n.UUID == "late-ctrl-node" {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("XCtrl started after the node did not learn of it within 5 s: %v", err)
	}
}
