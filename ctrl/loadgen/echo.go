package loadgen

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// EchoHandler is the raw WebSocket echo the relay benchmarks time XCtrl
// against: each message written back as it came, with the WebSocket library
// the clients use.
func EchoHandler() http.Handler {
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, m, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, m) != nil {
				return
			}
		}
	})
}
