package confine

//go:generate go run mksysnum.go

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Program is a compiled classic-BPF seccomp filter: the kernel's
// struct sock_filter array (8 bytes an instruction: code uint16, jt uint8,
// jf uint8, k uint32) in host byte order. It is plain bytes so that a parent
// compiles it once and hands it to a container's init on the same machine
// (a file, a pipe, an environment variable).
type Program []byte

// sockFilterSize is the size of one struct sock_filter.
const sockFilterSize = 8

// maxInstructions is the kernel's limit on a filter's length (BPF_MAXINSNS).
const maxInstructions = 4096

// Len returns the number of instructions in p.
func (p Program) Len() int { return len(p) / sockFilterSize }

func encode(filter []unix.SockFilter) Program {
	p := make(Program, 0, len(filter)*sockFilterSize)
	for _, f := range filter {
		p = binary.NativeEndian.AppendUint16(p, f.Code)
		p = append(p, f.Jt, f.Jf)
		p = binary.NativeEndian.AppendUint32(p, f.K)
	}
	return p
}

func (p Program) decode() ([]unix.SockFilter, error) {
	if len(p) == 0 || len(p)%sockFilterSize != 0 || p.Len() > maxInstructions {
		return nil, fmt.Errorf("seccomp program of %d bytes is corrupt (want a non-empty multiple of %d, at most %d instructions): pass the bytes DefaultSeccomp returned, unchanged",
			len(p), sockFilterSize, maxInstructions)
	}
	filter := make([]unix.SockFilter, p.Len())
	for i := range filter {
		b := p[i*sockFilterSize:]
		filter[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return filter, nil
}

// InstallSeccomp installs p on every thread of the calling process
// (SECCOMP_FILTER_FLAG_TSYNC); it stays across execve. The calling thread
// needs no_new_privs (SetNoNewPrivs) or CAP_SYS_ADMIN. Install it last: the
// filter may deny what the other confinement steps call.
func InstallSeccomp(p Program) error {
	filter, err := p.decode()
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("installing the seccomp filter: %w: call SetNoNewPrivs first (or hold CAP_SYS_ADMIN)", errno)
	case errno == unix.EINVAL || errno == unix.ENOSYS:
		return fmt.Errorf("installing the seccomp filter: %w: the kernel needs CONFIG_SECCOMP_FILTER with TSYNC (Linux 3.17 or later)", errno)
	case errno != 0:
		return fmt.Errorf("installing the seccomp filter: %w", errno)
	case r != 0:
		return fmt.Errorf("installing the seccomp filter: thread %d has a filter this process did not install, so nothing was installed: install it before starting other filters", r)
	}
	return nil
}

// DefaultSeccomp compiles Docker's default seccomp profile
// (github.com/moby/profiles/seccomp) for the running architecture (amd64 or
// arm64) and kernel, for a container that keeps caps (capability names as
// ParseCapabilities takes them). Rules are chosen as Docker chooses them
// (by architecture, capability and minimum kernel) and keep their argument
// conditions. System calls of other ABIs (i386 and x32 on amd64, arm32 on
// arm64) kill the process: Docker allows them, this filter does not. Names
// the architecture does not have are skipped, as libseccomp skips them.
// The result is small (a few hundred instructions); compile it once and
// pass it to InstallSeccomp.
func DefaultSeccomp(caps []string) (Program, error) {
	a, err := archFor(runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	parsed, err := ParseCapabilities(caps)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(parsed))
	for i, c := range parsed {
		names[i] = c.String()
	}
	kv, err := runningKernel()
	if err != nil {
		return nil, err
	}
	c, err := compile(seccomp.DefaultProfile(), a, names, kv)
	if err != nil {
		return nil, fmt.Errorf("compiling Docker's default seccomp profile: %w", err)
	}
	return c.prog, nil
}

// arch is what the compiler needs to know about one architecture.
type arch struct {
	// name is the GOARCH value, which is also the profile's name for it.
	name string
	// audit is the AUDIT_ARCH_* value in seccomp_data.arch.
	audit uint32
	// x32 says system-call numbers with bit 30 set belong to another ABI
	// (amd64's x32) under the same audit value.
	x32 bool
	// sysnum maps a system-call name to its number.
	sysnum func(string) (uint32, bool)
}

// archFor returns the compiler's description of a GOARCH. Both supported
// architectures are little-endian, which the argument loads rely on.
func archFor(goarch string) (arch, error) {
	switch goarch {
	case "amd64":
		return arch{name: goarch, audit: unix.AUDIT_ARCH_X86_64, x32: true, sysnum: sysnumAMD64}, nil
	case "arm64":
		return arch{name: goarch, audit: unix.AUDIT_ARCH_AARCH64, sysnum: sysnumARM64}, nil
	}
	return arch{}, fmt.Errorf("no seccomp support for %s: run swarmd on amd64 or arm64", goarch)
}

// runningKernel returns the running kernel's version, as the profile's
// minimum-kernel conditions compare it.
func runningKernel() (seccomp.KernelVersion, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return seccomp.KernelVersion{}, fmt.Errorf("reading the kernel version: %w", err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	var kv seccomp.KernelVersion
	if _, err := fmt.Sscanf(release, "%d.%d", &kv.Kernel, &kv.Major); err != nil {
		return seccomp.KernelVersion{}, fmt.Errorf("parsing kernel release %q: %w", release, err)
	}
	return kv, nil
}

// selectRules picks the profile's rules that apply to an architecture, a
// capability set (CAP_ names) and a kernel, as moby's setupSeccomp does for
// Docker (there it reads the architecture and kernel from the running host,
// here they are arguments so one architecture's filter can be checked on
// another).
func selectRules(p *seccomp.Seccomp, archName string, caps []string, kv seccomp.KernelVersion) ([]specs.LinuxSyscall, error) {
	atLeast := func(min *seccomp.KernelVersion) bool {
		return kv.Kernel > min.Kernel || kv.Kernel == min.Kernel && kv.Major >= min.Major
	}
	var out []specs.LinuxSyscall
rules:
	for _, call := range p.Syscalls {
		sc := call.LinuxSyscall
		if len(sc.Names) == 0 {
			return nil, fmt.Errorf("a seccomp rule (%s) names no system call: list them in names", sc.Action)
		}
		if ex := call.Excludes; ex != nil {
			if slices.Contains(ex.Arches, archName) {
				continue rules
			}
			for _, c := range ex.Caps {
				if slices.Contains(caps, c) {
					continue rules
				}
			}
			if ex.MinKernel != nil && atLeast(ex.MinKernel) {
				continue rules
			}
		}
		if in := call.Includes; in != nil {
			if len(in.Arches) > 0 && !slices.Contains(in.Arches, archName) {
				continue rules
			}
			for _, c := range in.Caps {
				if !slices.Contains(caps, c) {
					continue rules
				}
			}
			if in.MinKernel != nil && !atLeast(in.MinKernel) {
				continue rules
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// retValue turns a profile action into the filter's return value.
func retValue(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		errno := uint(unix.EPERM)
		if errnoRet != nil {
			errno = *errnoRet
		}
		if errno > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("errno %d does not fit a seccomp return value", errno)
		}
		return unix.SECCOMP_RET_ERRNO | uint32(errno), nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	}
	return 0, fmt.Errorf("seccomp action %q is not supported: use allow, errno, kill, trap or log", act)
}

// compiled is a compiled filter and what the compiler left out.
type compiled struct {
	prog Program
	// skipped are the profile's names the architecture has no number for.
	skipped []string
}

// sysRule is one conditional rule for a system call: its return value if
// all argument conditions hold.
type sysRule struct {
	ret  uint32
	args []specs.LinuxSeccompArg
}

// sysEntry is everything the selected rules say about one system call. An
// unconditional rule wins over conditional ones (as in libseccomp, where it
// makes them redundant); conditional rules are tried in profile order and
// the default action applies when none matches.
type sysEntry struct {
	uncond bool
	ret    uint32
	rules  []sysRule
}

// run is a range of system-call numbers, from start to the next run's
// start, that share one entry (nil: the default action).
type run struct {
	start uint32
	entry *sysEntry
}

// compile turns a profile into a filter for one architecture. The filter
// checks the architecture, then finds the system call's range by binary
// search over runs of numbers with the same outcome, then returns that
// outcome or tests the arguments.
func compile(p *seccomp.Seccomp, a arch, caps []string, kv seccomp.KernelVersion) (compiled, error) {
	def, err := retValue(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return compiled{}, fmt.Errorf("default action: %w", err)
	}
	selected, err := selectRules(p, a.name, caps, kv)
	if err != nil {
		return compiled{}, err
	}

	var out compiled
	entries := map[uint32]*sysEntry{}
	var maxNr uint32
	for _, sc := range selected {
		ret, err := retValue(sc.Action, sc.ErrnoRet)
		if err != nil {
			return compiled{}, fmt.Errorf("rule for %v: %w", sc.Names, err)
		}
		for _, arg := range sc.Args {
			if arg.Index > 5 {
				return compiled{}, fmt.Errorf("rule for %v: argument index %d out of range 0-5", sc.Names, arg.Index)
			}
		}
		for _, name := range sc.Names {
			nr, ok := a.sysnum(name)
			if !ok {
				if !slices.Contains(out.skipped, name) {
					out.skipped = append(out.skipped, name)
				}
				continue
			}
			e := entries[nr]
			if e == nil {
				e = &sysEntry{}
				entries[nr] = e
				maxNr = max(maxNr, nr)
			}
			switch {
			case e.uncond:
				// The first unconditional rule decides.
			case len(sc.Args) == 0:
				e.uncond, e.ret, e.rules = true, ret, nil
			default:
				e.rules = append(e.rules, sysRule{ret: ret, args: sc.Args})
			}
		}
	}

	// Runs: consecutive numbers whose unconditional outcome is the same
	// share one; a conditional entry is a run of its own.
	outcome := func(e *sysEntry) (uint32, bool) {
		if e == nil {
			return def, true
		}
		return e.ret, e.uncond
	}
	var runs []run
	for nr := uint32(0); nr <= maxNr+1; nr++ {
		e := entries[nr]
		ret, plain := outcome(e)
		if plain && len(runs) > 0 {
			if last, lastPlain := outcome(runs[len(runs)-1].entry); lastPlain && last == ret {
				continue
			}
		}
		if plain && ret == def {
			e = nil
		}
		runs = append(runs, run{start: nr, entry: e})
	}

	var code []unix.SockFilter
	code = append(code,
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		jump(unix.BPF_JEQ, a.audit, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_KILL_PROCESS),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	)
	if a.x32 {
		// x32 numbers carry bit 30; -1 is what a tracer sets to skip a
		// call and goes on to the default action.
		code = append(code,
			jump(unix.BPF_JGE, x32SyscallBit, 0, 2),
			jump(unix.BPF_JEQ, 0xffffffff, 1, 0),
			stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_KILL_PROCESS),
		)
	}
	tree, err := emitTree(runs, def)
	if err != nil {
		return compiled{}, err
	}
	code = append(code, tree...)
	if len(code) > maxInstructions {
		return compiled{}, fmt.Errorf("the filter has %d instructions, over the kernel's limit of %d", len(code), maxInstructions)
	}
	out.prog = encode(code)
	return out, nil
}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// x32SyscallBit marks x32 system-call numbers on amd64 (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

func stmt(code uint16, k uint32) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k}
}

// jump is a conditional jump comparing the accumulator with k.
func jump(cond uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | cond | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

// emitTree emits a binary search over runs, with the number in the
// accumulator. All jumps are forward and relative, so the parts are
// position-independent and compose by concatenation.
func emitTree(runs []run, def uint32) ([]unix.SockFilter, error) {
	if len(runs) == 1 {
		return emitEntry(runs[0].entry, def)
	}
	mid := len(runs) / 2
	left, err := emitTree(runs[:mid], def)
	if err != nil {
		return nil, err
	}
	right, err := emitTree(runs[mid:], def)
	if err != nil {
		return nil, err
	}
	k := runs[mid].start
	code := make([]unix.SockFilter, 0, 2+len(left)+len(right))
	if len(left) <= 255 {
		code = append(code, jump(unix.BPF_JGE, k, uint8(len(left)), 0))
	} else {
		code = append(code,
			jump(unix.BPF_JGE, k, 0, 1),
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(len(left))},
		)
	}
	code = append(code, left...)
	return append(code, right...), nil
}

// emitEntry emits one run's outcome: a return, or the argument tests of a
// system call's conditional rules, one after the other, then the default.
func emitEntry(e *sysEntry, def uint32) ([]unix.SockFilter, error) {
	if e == nil {
		return []unix.SockFilter{stmt(unix.BPF_RET|unix.BPF_K, def)}, nil
	}
	if e.uncond {
		return []unix.SockFilter{stmt(unix.BPF_RET|unix.BPF_K, e.ret)}, nil
	}
	var code []unix.SockFilter
	for _, r := range e.rules {
		rule, err := emitRule(r)
		if err != nil {
			return nil, err
		}
		code = append(code, rule...)
	}
	return append(code, stmt(unix.BPF_RET|unix.BPF_K, def)), nil
}

// pending is an instruction whose true or false branch may go to the end
// of its rule (the rule failed), which is known once the rule is emitted.
type pending struct {
	f              unix.SockFilter
	jtFail, jfFail bool
}

// emitRule emits the tests of one rule's conditions (all must hold) and its
// return; a failed test jumps past the return, to the next rule.
func emitRule(r sysRule) ([]unix.SockFilter, error) {
	var code []pending
	for _, arg := range r.args {
		c, err := emitArg(arg)
		if err != nil {
			return nil, err
		}
		code = append(code, c...)
	}
	code = append(code, pending{f: stmt(unix.BPF_RET|unix.BPF_K, r.ret)})
	out := make([]unix.SockFilter, len(code))
	for i, p := range code {
		if p.jtFail || p.jfFail {
			off := len(code) - (i + 1)
			if off > 255 {
				return nil, fmt.Errorf("a rule's conditions take %d instructions, more than a conditional jump reaches", len(code))
			}
			if p.jtFail {
				p.f.Jt = uint8(off)
			}
			if p.jfFail {
				p.f.Jf = uint8(off)
			}
		}
		out[i] = p.f
	}
	return out, nil
}

// emitArg emits a 64-bit comparison of one argument, as libseccomp does on
// 64-bit ABIs: the high word, then the low word. The code falls through
// when the condition holds.
func emitArg(arg specs.LinuxSeccompArg) ([]pending, error) {
	lo := uint32(offArgs + 8*arg.Index) // little-endian: low word first
	hi := lo + 4
	vlo, vhi := uint32(arg.Value), uint32(arg.Value>>32)
	ld := func(off uint32) pending {
		return pending{f: stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off)}
	}
	j := func(cond uint16, k uint32, jt, jf uint8) pending {
		return pending{f: jump(cond, k, jt, jf)}
	}
	failT := func(p pending) pending { p.jtFail = true; return p }
	failF := func(p pending) pending { p.jfFail = true; return p }

	switch arg.Op {
	case specs.OpEqualTo:
		return []pending{
			ld(hi), failF(j(unix.BPF_JEQ, vhi, 0, 0)),
			ld(lo), failF(j(unix.BPF_JEQ, vlo, 0, 0)),
		}, nil
	case specs.OpNotEqual:
		return []pending{
			ld(hi), j(unix.BPF_JEQ, vhi, 0, 2), // high words differ: holds
			ld(lo), failT(j(unix.BPF_JEQ, vlo, 0, 0)),
		}, nil
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		cond := uint16(unix.BPF_JGT)
		if arg.Op == specs.OpGreaterEqual {
			cond = unix.BPF_JGE
		}
		return []pending{
			ld(hi), j(unix.BPF_JGT, vhi, 3, 0), // high word greater: holds
			failF(j(unix.BPF_JEQ, vhi, 0, 0)), // high word less: fails
			ld(lo), failF(j(cond, vlo, 0, 0)),
		}, nil
	case specs.OpLessThan, specs.OpLessEqual:
		cond := uint16(unix.BPF_JGE)
		if arg.Op == specs.OpLessEqual {
			cond = unix.BPF_JGT
		}
		return []pending{
			ld(hi), failT(j(unix.BPF_JGT, vhi, 0, 0)), // high word greater: fails
			j(unix.BPF_JEQ, vhi, 0, 2), // high word less: holds
			ld(lo), failT(j(cond, vlo, 0, 0)),
		}, nil
	case specs.OpMaskedEqual:
		// (arg & Value) == ValueTwo.
		mlo, mhi := uint32(arg.Value), uint32(arg.Value>>32)
		wlo, whi := uint32(arg.ValueTwo), uint32(arg.ValueTwo>>32)
		and := func(k uint32) pending { return pending{f: stmt(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, k)} }
		var code []pending
		if mhi != 0 || whi != 0 {
			code = append(code, ld(hi), and(mhi), failF(j(unix.BPF_JEQ, whi, 0, 0)))
		}
		return append(code, ld(lo), and(mlo), failF(j(unix.BPF_JEQ, wlo, 0, 0))), nil
	}
	return nil, fmt.Errorf("seccomp operator %q is not supported", arg.Op)
}
