package ctrl

import (
	"os"
	"sync"
	"syscall"
)

// poller watches idle sockets with epoll so that a socket needs no
// goroutine (and no read buffer) while it has nothing to say: when one
// becomes readable, a short-lived goroutine reads what is there and handles
// it, then the socket is armed again. EPOLLONESHOT keeps one reader per
// socket at a time, so its frames are handled in order.
//
// The wait loop does not block a thread in epoll_wait: the epoll instance
// is itself a descriptor Go's own poller watches (it is readable while a
// socket is ready), and the loop parks like any network read. A loop
// blocked in the system call held its P until the runtime took it back,
// and the goroutines it had just started for readable sockets waited for
// that: an idle socket's first message took twice as long, its p99 four
// times (BenchmarkIdleSocketPing).
type poller struct {
	epfd int
	ep   *os.File        // epfd, in Go's poller
	eprc syscall.RawConn // ep's, for the waits
	wake [2]int          // a pipe that ends the wait loop

	mu    sync.Mutex
	socks map[uint64]*Session
	gen   uint32
	done  chan struct{}
}

const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	p := &poller{epfd: epfd, ep: os.NewFile(uintptr(epfd), "xctrl-epoll"), socks: map[uint64]*Session{}, done: make(chan struct{})}
	rc, err := p.ep.SyscallConn()
	if err != nil {
		p.ep.Close()
		return nil, err
	}
	p.eprc = rc
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		p.ep.Close()
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	go p.run()
	return p, nil
}

// add registers s's socket, not armed yet: rearm arms it once the code
// that holds it as its reader is done (one reader at a time). The event
// carries the fd and a generation, so an event of a closed socket never
// reaches a new one on a reused fd.
func (p *poller) add(s *Session) error {
	p.mu.Lock()
	p.gen++
	if p.gen == 0 {
		p.gen = 1 // 0 marks the wake pipe
	}
	key := uint64(p.gen)<<32 | uint64(uint32(s.fd))
	p.socks[key] = s
	p.mu.Unlock()
	s.pollKey = key
	ev := syscall.EpollEvent{Events: syscall.EPOLLONESHOT, Fd: int32(s.fd), Pad: int32(key >> 32)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		p.forget(s)
		return err
	}
	return nil
}

// rearm watches s again after a read.
func (p *poller) rearm(s *Session) error {
	ev := syscall.EpollEvent{Events: pollEvents, Fd: int32(s.fd), Pad: int32(s.pollKey >> 32)}
	return syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, s.fd, &ev)
}

// remove stops watching s (before its socket is closed).
func (p *poller) remove(s *Session) {
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, s.fd, nil)
}

// forget drops s from the table (after its socket is closed).
func (p *poller) forget(s *Session) {
	p.mu.Lock()
	if p.socks[s.pollKey] == s {
		delete(p.socks, s.pollKey)
	}
	p.mu.Unlock()
}

func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		// Take what is ready without waiting; when nothing is, park until
		// Go's poller sees the epoll descriptor readable.
		var n int
		var err error
		if rerr := p.eprc.Read(func(fd uintptr) bool {
			for {
				// An interrupted call is made again here: given back
				// to Go's poller, it would wait for the next socket to
				// become ready, with some ready already.
				if n, err = syscall.EpollWait(int(fd), events, 0); err != syscall.EINTR {
					return n > 0 || err != nil
				}
			}
		}); rerr != nil {
			return
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake[0]) && ev.Pad == 0 {
				return
			}
			key := uint64(uint32(ev.Pad))<<32 | uint64(uint32(ev.Fd))
			p.mu.Lock()
			s := p.socks[key]
			p.mu.Unlock()
			if s != nil {
				go s.onReadable()
			}
		}
	}
}

// close ends the wait loop and releases the poller; sockets must be closed
// by their owners.
func (p *poller) close() {
	_, _ = syscall.Write(p.wake[1], []byte{0})
	<-p.done
	p.closeFDs()
}

func (p *poller) closeFDs() {
	p.ep.Close() // and epfd with it
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
}

// rawRead reads what the socket has without waiting: errAgain when
// nothing is there.
func rawRead(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var err error
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), b)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, cerr
	case err == syscall.EAGAIN:
		return 0, errAgain
	case err != nil:
		return 0, err
	case n == 0:
		return 0, errEOF
	}
	return n, nil
}

// rawWrite writes what the socket takes without waiting: errAgain when
// its buffer is full (n may be short of len(b)).
func rawWrite(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var err error
	cerr := rc.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	switch {
	case cerr != nil:
		return n, cerr
	case err == syscall.EAGAIN:
		return n, errAgain
	}
	return n, err
}
