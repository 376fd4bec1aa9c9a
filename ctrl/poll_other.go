//go:build !linux

package ctrl

import (
	"errors"
	"syscall"
)

// poller is Linux-only (epoll); elsewhere every socket has its reader
// goroutine.
type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("ctrl: no epoll on this system") }

func (p *poller) add(*Session) error   { return errors.ErrUnsupported }
func (p *poller) rearm(*Session) error { return errors.ErrUnsupported }
func (p *poller) remove(*Session)      {}
func (p *poller) forget(*Session)      {}
func (p *poller) close()               {}

func rawRead(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }

func rawWrite(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }
