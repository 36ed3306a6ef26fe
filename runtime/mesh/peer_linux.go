package mesh

import (
	"fmt"
	"net"
	"syscall"
)

// peerPID returns the pid, in this process's PID namespace, of the process
// that connected a Unix socket (SO_PEERCRED: the credentials at connect).
func peerPID(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("a %T has no file descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, fmt.Errorf("SO_PEERCRED: %w", credErr)
	}
	if cred.Pid <= 0 {
		return 0, fmt.Errorf("SO_PEERCRED: pid %d: the caller is outside this PID namespace", cred.Pid)
	}
	return int(cred.Pid), nil
}
