package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bins are the commands the scenarios run as processes.
type Bins struct {
	XCtrl string // ctrl/cmd/xctrl
	NATSd string // tools/xrtc-natsd
	Node  string // tools/xrtc-node
}

// binPkgs are the packages of Bins, in the order of its fields.
var binPkgs = []string{"xccrtc/ctrl/cmd/xctrl", "xccrtc/tools/xrtc-natsd", "xccrtc/tools/xrtc-node"}

// BinsIn returns the Bins in dir (not checked).
func BinsIn(dir string) Bins {
	return Bins{XCtrl: filepath.Join(dir, "xctrl"), NATSd: filepath.Join(dir, "xrtc-natsd"), Node: filepath.Join(dir, "xrtc-node")}
}

// Found reports whether every command exists.
func (b Bins) Found() bool {
	for _, p := range []string{b.XCtrl, b.NATSd, b.Node} {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// Build builds the commands into dir with `go build` (run inside this
// module), with the race detector when race is set.
func Build(ctx context.Context, dir string, race bool) (Bins, error) {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, binPkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return Bins{}, fmt.Errorf("chaos: go build (run inside the xcc-rtc module, or give the commands' folder): %w\n%s", err, out)
	}
	return BinsIn(dir), nil
}

// Proc is a child process: its stdout lines are kept (ready lines,
// answers), its stderr goes to a log file.
type Proc struct {
	Name string
	path string
	args []string
	logf string // stderr (and stdout) copy

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{}
	err    error // after exited

	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

// startProc starts path with args; its output is appended to logFile.
func startProc(name, path string, args []string, logFile string) (*Proc, error) {
	p := &Proc{Name: name, path: path, args: args, logf: logFile}
	return p, p.start()
}

func (p *Proc) start() error {
	logw, err := os.OpenFile(p.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logw, "=== %s start: %s %s\n", time.Now().Format(time.RFC3339Nano), p.path, strings.Join(p.args, " "))
	cmd := exec.Command(p.path, p.args...)
	cmd.Stderr = logw
	cmd.SysProcAttr = procAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logw.Close()
		return err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logw.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logw.Close()
		return fmt.Errorf("chaos: start %s: %w", p.Name, err)
	}
	p.mu.Lock()
	p.cmd, p.stdin, p.exited, p.err = cmd, stdin, make(chan struct{}), nil
	p.lines, p.changed = nil, make(chan struct{})
	p.mu.Unlock()
	exited := p.exited
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(logw, "stdout: %s\n", line)
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		err := cmd.Wait()
		fmt.Fprintf(logw, "=== %s exit: %v\n", time.Now().Format(time.RFC3339Nano), err)
		logw.Close()
		p.mu.Lock()
		p.err = err
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Restart starts the process again with the same arguments (it must have
// exited).
func (p *Proc) Restart() error {
	select {
	case <-p.Exited():
	default:
		return fmt.Errorf("chaos: restart %s: still running", p.Name)
	}
	return p.start()
}

// Pid is the process id.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Signal sends sig to the process (by its pid).
func (p *Proc) Signal(sig os.Signal) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Proc) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	<-p.Exited()
}

// Term sends SIGTERM and waits for the exit (SIGKILL after grace).
func (p *Proc) Term(grace time.Duration) error {
	select {
	case <-p.Exited():
		return nil
	default:
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.Exited():
		return p.ExitErr()
	case <-t.C:
		p.Kill()
		return fmt.Errorf("chaos: %s did not stop within %v of SIGTERM: killed", p.Name, grace)
	}
}

// ExitErr is how the process ended (nil: exit 0).
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// WaitLine waits for a stdout line (since the last start) that match
// accepts, and returns it.
func (p *Proc) WaitLine(ctx context.Context, match func(string) bool) (string, error) {
	seen := 0
	for {
		p.mu.Lock()
		lines, changed, exited := p.lines, p.changed, p.exited
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if match(lines[seen]) {
				return lines[seen], nil
			}
		}
		select {
		case <-exited:
			return "", fmt.Errorf("chaos: %s exited (%v); see %s", p.Name, p.ExitErr(), p.logf)
		default:
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", fmt.Errorf("chaos: %s: waiting for its output: %w", p.Name, ctx.Err())
		}
	}
}

// Send writes one line to the process's stdin.
func (p *Proc) Send(line string) error {
	p.mu.Lock()
	w := p.stdin
	p.mu.Unlock()
	_, err := io.WriteString(w, line+"\n")
	return err
}

// LogFile is where the process's output goes.
func (p *Proc) LogFile() string { return p.logf }

// LogContains counts the lines of the log that contain s.
func (p *Proc) LogContains(s string) int {
	b, err := os.ReadFile(p.logf)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}
