package testhost_test

import (
	"context"
	"fmt"
	"log"

	"xccrtc/module/testhost"
)

// A demo or test starts a node in-process next to an embedded NATS (and
// XCtrl): the node is the test host, not FreeSWITCH.
func ExampleStart() {
	ctx := context.Background()
	node, err := testhost.Start(ctx, testhost.Options{
		NATSURL:  "nats://127.0.0.1:4222",
		NodeUUID: "demo-node",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close(ctx)
	fmt.Println(node.Endpoint.NodeSubject()) // cn.xswitch.node.demo-node

	// Call a WebRTC user through XCtrl and play a tone once answered.
	ch, err := node.Originate(ctx, "xrtc/1000@xswitch.cn", testhost.AppTone)
	if err != nil {
		log.Printf("not answered: %v", err)
		return
	}
	<-ch.Done()
}
