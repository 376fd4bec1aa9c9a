// Package childproc runs this program again as a child process that speaks
// lines on stdin/stdout: how the benchmark programs put clients (and
// servers) in processes of their own.
package childproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Child is a running child process.
type Child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// Start runs this program's executable with args; its stderr is ours.
func Start(ctx context.Context, args ...string) (*Child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Child{cmd: cmd, stdin: in, out: bufio.NewReader(out)}, nil
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Send writes one line to the child.
func (c *Child) Send(line string) error {
	_, err := io.WriteString(c.stdin, line+"\n")
	return err
}

// Line reads the child's next line; a line "error <text>" is an error.
func (c *Child) Line() (string, error) {
	l, err := c.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.cmd.Args[1], err)
	}
	l = strings.TrimSpace(l)
	if e, ok := strings.CutPrefix(l, "error "); ok {
		return "", fmt.Errorf("%s: %s", c.cmd.Args[1], e)
	}
	return l, nil
}

// Stop closes the child's stdin (its signal to finish) and waits for it,
// killing it after 30 s.
func (c *Child) Stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}
