package ctrl

import "syscall"

// SendBuffers is the kernel send buffer (SO_SNDBUF, as the kernel counts
// it) of each open client socket.
func SendBuffers(s *Server) []int {
	var out []int
	for _, ss := range s.sessions.All() {
		sc, ok := ss.conn.(syscall.Conn)
		if !ok {
			continue
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			continue
		}
		_ = rc.Control(func(fd uintptr) {
			if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF); err == nil {
				out = append(out, v)
			}
		})
	}
	return out
}
