//go:build !linux

package mesh

import (
	"errors"
	"net"
)

// peerPID is Linux only (SO_PEERCRED); elsewhere every caller is external.
func peerPID(net.Conn) (int, error) {
	return 0, errors.New("peer credentials are read on Linux only")
}
