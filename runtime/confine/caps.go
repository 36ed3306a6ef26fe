package confine

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Capability is a Linux capability number, as in capabilities(7) and
// golang.org/x/sys/unix's CAP_* constants.
type Capability uint

// numCapabilities is one more than the highest capability this package
// names (CAP_CHECKPOINT_RESTORE, Linux 5.9).
const numCapabilities = unix.CAP_CHECKPOINT_RESTORE + 1

// capabilityNames returns the names of the capabilities, indexed by number.
func capabilityNames() [numCapabilities]string {
	return [numCapabilities]string{
		unix.CAP_CHOWN:              "CAP_CHOWN",
		unix.CAP_DAC_OVERRIDE:       "CAP_DAC_OVERRIDE",
		unix.CAP_DAC_READ_SEARCH:    "CAP_DAC_READ_SEARCH",
		unix.CAP_FOWNER:             "CAP_FOWNER",
		unix.CAP_FSETID:             "CAP_FSETID",
		unix.CAP_KILL:               "CAP_KILL",
		unix.CAP_SETGID:             "CAP_SETGID",
		unix.CAP_SETUID:             "CAP_SETUID",
		unix.CAP_SETPCAP:            "CAP_SETPCAP",
		unix.CAP_LINUX_IMMUTABLE:    "CAP_LINUX_IMMUTABLE",
		unix.CAP_NET_BIND_SERVICE:   "CAP_NET_BIND_SERVICE",
		unix.CAP_NET_BROADCAST:      "CAP_NET_BROADCAST",
		unix.CAP_NET_ADMIN:          "CAP_NET_ADMIN",
		unix.CAP_NET_RAW:            "CAP_NET_RAW",
		unix.CAP_IPC_LOCK:           "CAP_IPC_LOCK",
		unix.CAP_IPC_OWNER:          "CAP_IPC_OWNER",
		unix.CAP_SYS_MODULE:         "CAP_SYS_MODULE",
		unix.CAP_SYS_RAWIO:          "CAP_SYS_RAWIO",
		unix.CAP_SYS_CHROOT:         "CAP_SYS_CHROOT",
		unix.CAP_SYS_PTRACE:         "CAP_SYS_PTRACE",
		unix.CAP_SYS_PACCT:          "CAP_SYS_PACCT",
		unix.CAP_SYS_ADMIN:          "CAP_SYS_ADMIN",
		unix.CAP_SYS_BOOT:           "CAP_SYS_BOOT",
		unix.CAP_SYS_NICE:           "CAP_SYS_NICE",
		unix.CAP_SYS_RESOURCE:       "CAP_SYS_RESOURCE",
		unix.CAP_SYS_TIME:           "CAP_SYS_TIME",
		unix.CAP_SYS_TTY_CONFIG:     "CAP_SYS_TTY_CONFIG",
		unix.CAP_MKNOD:              "CAP_MKNOD",
		unix.CAP_LEASE:              "CAP_LEASE",
		unix.CAP_AUDIT_WRITE:        "CAP_AUDIT_WRITE",
		unix.CAP_AUDIT_CONTROL:      "CAP_AUDIT_CONTROL",
		unix.CAP_SETFCAP:            "CAP_SETFCAP",
		unix.CAP_MAC_OVERRIDE:       "CAP_MAC_OVERRIDE",
		unix.CAP_MAC_ADMIN:          "CAP_MAC_ADMIN",
		unix.CAP_SYSLOG:             "CAP_SYSLOG",
		unix.CAP_WAKE_ALARM:         "CAP_WAKE_ALARM",
		unix.CAP_BLOCK_SUSPEND:      "CAP_BLOCK_SUSPEND",
		unix.CAP_AUDIT_READ:         "CAP_AUDIT_READ",
		unix.CAP_PERFMON:            "CAP_PERFMON",
		unix.CAP_BPF:                "CAP_BPF",
		unix.CAP_CHECKPOINT_RESTORE: "CAP_CHECKPOINT_RESTORE",
	}
}

// String returns the capability's name, such as "CAP_CHOWN", or its number
// for one this package does not name.
func (c Capability) String() string {
	if c < numCapabilities {
		return capabilityNames()[c]
	}
	return fmt.Sprintf("CAP_%d", uint(c))
}

// DefaultCapabilities returns Docker's default capability set as CAP_ names:
// what a container keeps unless told otherwise.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// ParseCapabilities turns capability names into numbers. Names are
// case-insensitive, with or without the CAP_ prefix ("net_admin" is
// CAP_NET_ADMIN). Duplicates are dropped; the order is kept.
func ParseCapabilities(names []string) ([]Capability, error) {
	known := capabilityNames()
	caps := make([]Capability, 0, len(names))
	var seen uint64
	for _, name := range names {
		c, ok := lookupCapability(&known, name)
		if !ok {
			return nil, fmt.Errorf("unknown capability %q: use a name from capabilities(7), such as CAP_NET_ADMIN or net_admin", name)
		}
		if seen&(1<<c) == 0 {
			seen |= 1 << c
			caps = append(caps, c)
		}
	}
	return caps, nil
}

func lookupCapability(known *[numCapabilities]string, name string) (Capability, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, k := range known {
		if k == n {
			return Capability(i), true
		}
	}
	return 0, false
}

// capabilityMask parses names into a bit mask (bit n is capability n).
func capabilityMask(names []string) (uint64, error) {
	caps, err := ParseCapabilities(names)
	if err != nil {
		return 0, err
	}
	var mask uint64
	for _, c := range caps {
		mask |= 1 << c
	}
	return mask, nil
}

// DropCapabilities limits the calling thread's bounding, permitted,
// effective and inheritable capability sets to keep and clears its ambient
// set. It never adds a capability the thread lacks. Capabilities are
// per-thread: call it on the thread that will execve, locked with
// runtime.LockOSThread. Shrinking the bounding set needs CAP_SETPCAP, so
// call it before anything else drops that.
func DropCapabilities(keep []string) error {
	want, err := capabilityMask(keep)
	if err != nil {
		return err
	}

	// The bounding set first: dropping from it needs CAP_SETPCAP in the
	// effective set, which capset below may remove. The kernel answers
	// EINVAL past its last capability.
	for c := Capability(0); c < 64; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s in the bounding set: %w", c, err)
		}
		if in == 1 && want&(1<<c) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				return fmt.Errorf("dropping %s from the bounding set: %w (this needs CAP_SETPCAP: run as root)", c, err)
			}
		}
	}

	// Kernels before 4.3 have no ambient set and answer EINVAL.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}

	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading the thread's capabilities: %w", err)
	}
	permitted := (uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)) & want
	inheritable := (uint64(data[1].Inheritable)<<32 | uint64(data[0].Inheritable)) & want
	for i := range data {
		shift := 32 * i
		data[i].Permitted = uint32(permitted >> shift)
		data[i].Effective = uint32(permitted >> shift)
		data[i].Inheritable = uint32(inheritable >> shift)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting the thread's capabilities to %v: %w", keep, err)
	}
	return nil
}

// SetNoNewPrivs sets the calling thread's no_new_privs bit: execve will
// not grant privileges (setuid bits, file capabilities) from then on. The
// bit is per-thread and inherited; call it on the thread that will execve.
// InstallSeccomp needs it unless the thread holds CAP_SYS_ADMIN.
func SetNoNewPrivs() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return nil
}
