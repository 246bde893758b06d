// Package proc starts and stops the test rig's server processes (the local
// clusters' apiservers and controllers, sshd): each in a process group of
// its own, so that stopping it reaches whatever it forked, and killed by
// the kernel if the test binary dies first.
//
// The rig is for tests only: nothing that ships imports it.
package proc

import (
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Start starts cmd in its own process group, with SIGKILL as its parent
// death signal. Other SysProcAttr fields set beforehand (Unshareflags, ...)
// are kept.
func Start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// Pdeathsig fires when the *thread* that forked exits; a locked thread
	// is only ever ended by the runtime if its goroutine exits while
	// locked, which this one does not.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}

// StopGroup sends SIGTERM to the process group led by pid, waits for done
// (closed when the leader has been waited for) up to grace, then sends
// SIGKILL; children that outlived the leader are killed too, since they
// would keep ports open.
func StopGroup(pid int, done <-chan struct{}, grace time.Duration) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
