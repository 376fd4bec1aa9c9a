package chaos

import "syscall"

// procAttr makes a child die with the harness (SIGKILL on the parent's
// death), so that an interrupted run leaves no process behind.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
