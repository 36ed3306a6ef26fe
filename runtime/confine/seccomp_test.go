package confine

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Return values the tests expect.
const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retNOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
)

// call is one system call as the filter sees it (struct seccomp_data).
type call struct {
	arch uint32
	nr   uint32
	args [6]uint64
}

// evaluate runs prog on c with a classic-BPF interpreter that accepts only
// what the kernel's seccomp checker accepts (aligned 32-bit loads inside
// seccomp_data, forward jumps inside the program) and only the opcodes the
// compiler emits.
func evaluate(t *testing.T, prog Program, c call) uint32 {
	t.Helper()
	filter, err := prog.decode()
	if err != nil {
		t.Fatal(err)
	}
	var data [64]byte
	binary.NativeEndian.PutUint32(data[0:], c.nr)
	binary.NativeEndian.PutUint32(data[4:], c.arch)
	for i, a := range c.args {
		binary.NativeEndian.PutUint64(data[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; ; pc++ {
		if pc >= len(filter) {
			t.Fatalf("program ran off its end")
		}
		f := filter[pc]
		cond := func(ok bool) {
			if ok {
				pc += int(f.Jt)
			} else {
				pc += int(f.Jf)
			}
		}
		switch f.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if f.K%4 != 0 || f.K >= uint32(len(data)) {
				t.Fatalf("instruction %d loads offset %d, outside seccomp_data", pc, f.K)
			}
			acc = binary.NativeEndian.Uint32(data[f.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= f.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(f.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			cond(acc == f.K)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			cond(acc > f.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			cond(acc >= f.K)
		case unix.BPF_RET | unix.BPF_K:
			return f.K
		default:
			t.Fatalf("instruction %d has unexpected opcode %#x", pc, f.Code)
		}
	}
}

// testKernel is the kernel version the architecture-independent tests
// compile for.
func testKernel() seccomp.KernelVersion { return seccomp.KernelVersion{Kernel: 6, Major: 18} }

func compileFor(t *testing.T, archName string, caps []string, kv seccomp.KernelVersion) (arch, compiled) {
	t.Helper()
	a, err := archFor(archName)
	if err != nil {
		t.Fatal(err)
	}
	c, err := compile(seccomp.DefaultProfile(), a, caps, kv)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func nr(t *testing.T, a arch, name string) uint32 {
	t.Helper()
	n, ok := a.sysnum(name)
	if !ok {
		t.Fatalf("%s has no system call %q", a.name, name)
	}
	return n
}

func withSysAdmin() []string { return append(DefaultCapabilities(), "CAP_SYS_ADMIN") }

func TestDefaultSeccompFitsTheKernel(t *testing.T) {
	if _, err := archFor(runtime.GOARCH); err != nil {
		t.Skipf("no filter for this architecture: %v", err)
	}
	p, err := DefaultSeccomp(DefaultCapabilities())
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() < 100 || p.Len() > maxInstructions {
		t.Fatalf("program has %d instructions, want between 100 and %d", p.Len(), maxInstructions)
	}
	t.Logf("%s: %d instructions", runtime.GOARCH, p.Len())
	if _, err := DefaultSeccomp([]string{"CAP_NOPE"}); err == nil || !strings.Contains(err.Error(), "CAP_NOPE") {
		t.Fatalf("DefaultSeccomp with an unknown capability: err = %v, want one naming it", err)
	}
}

// The rules chosen for a capability set must be the ones Docker's own code
// chooses on this machine.
func TestSelectRulesMatchesMoby(t *testing.T) {
	if _, err := archFor(runtime.GOARCH); err != nil {
		t.Skipf("no filter for this architecture: %v", err)
	}
	kv, err := runningKernel()
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for c := range Capability(numCapabilities) {
		all = append(all, c.String())
	}
	for _, caps := range [][]string{nil, DefaultCapabilities(), withSysAdmin(), all} {
		spec := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
		want, err := seccomp.GetDefaultProfile(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := selectRules(seccomp.DefaultProfile(), runtime.GOARCH, caps, kv)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want.Syscalls) {
			t.Errorf("caps %v: %d rules, moby chooses %d", caps, len(got), len(want.Syscalls))
			continue
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want.Syscalls[i]) {
				t.Errorf("caps %v: rule %d is %v, moby's is %v", caps, i, got[i], want.Syscalls[i])
			}
		}
	}
}

// Every number the selected rules allow unconditionally is allowed, every
// number they do not name is EPERM; names missing from an architecture's
// table are counted so a table regression shows.
func TestFilterFollowsRules(t *testing.T) {
	for _, tc := range []struct {
		arch    string
		label   string
		caps    []string
		skipped int
	}{
		// The 32-bit names (chown32, _llseek, ...), riscv_hwprobe and a
		// few calls amd64 never had (recv, send, socketcall, ipc, ...).
		{"amd64", "default", DefaultCapabilities(), 61},
		// As amd64, plus the legacy calls arm64 never had (open, stat,
		// fork, ...) and the arm32-only ones.
		{"arm64", "default", DefaultCapabilities(), 107},
		// umount, in the CAP_SYS_ADMIN rule, exists on neither.
		{"amd64", "sys_admin", withSysAdmin(), 62},
		{"arm64", "sys_admin", withSysAdmin(), 108},
	} {
		t.Run(tc.arch+"/"+tc.label, func(t *testing.T) {
			a, c := compileFor(t, tc.arch, tc.caps, testKernel())
			if len(c.skipped) != tc.skipped {
				t.Errorf("skipped %d names, want %d: %v", len(c.skipped), tc.skipped, c.skipped)
			}
			rules, err := selectRules(seccomp.DefaultProfile(), a.name, tc.caps, testKernel())
			if err != nil {
				t.Fatal(err)
			}
			uncond := map[uint32]uint32{}
			named := map[uint32]bool{}
			for _, r := range rules {
				for _, name := range r.Names {
					n, ok := a.sysnum(name)
					if !ok {
						continue
					}
					named[n] = true
					if _, seen := uncond[n]; !seen && len(r.Args) == 0 {
						ret, err := retValue(r.Action, r.ErrnoRet)
						if err != nil {
							t.Fatal(err)
						}
						uncond[n] = ret
					}
				}
			}
			for n := uint32(0); n < 1024; n++ {
				got := evaluate(t, c.prog, call{arch: a.audit, nr: n})
				want, ok := uncond[n]
				switch {
				case ok && got != want:
					t.Errorf("syscall %d: got %#x, want %#x", n, got, want)
				case !named[n] && got != retEPERM:
					t.Errorf("syscall %d (not in the profile): got %#x, want EPERM", n, got)
				}
			}
			for _, name := range []string{"read", "write", "openat", "execve", "exit_group", "wait4", "rt_sigreturn", "newfstatat", "statx", "futex", "mmap"} {
				if got := evaluate(t, c.prog, call{arch: a.audit, nr: nr(t, a, name)}); got != retAllow {
					t.Errorf("%s: got %#x, want allow", name, got)
				}
			}
		})
	}
}

func TestFilterArchitectureCheck(t *testing.T) {
	a, c := compileFor(t, "amd64", DefaultCapabilities(), testKernel())
	read := nr(t, a, "read")
	for _, tc := range []struct {
		name string
		c    call
		want uint32
	}{
		{"i386", call{arch: unix.AUDIT_ARCH_I386, nr: read}, retKill},
		{"aarch64 on amd64", call{arch: unix.AUDIT_ARCH_AARCH64, nr: read}, retKill},
		{"x32 read", call{arch: a.audit, nr: x32SyscallBit | read}, retKill},
		{"x32 bit alone", call{arch: a.audit, nr: x32SyscallBit}, retKill},
		{"skipped by a tracer (-1)", call{arch: a.audit, nr: 0xffffffff}, retEPERM},
		{"past the table", call{arch: a.audit, nr: 100000}, retEPERM},
	} {
		if got := evaluate(t, c.prog, tc.c); got != tc.want {
			t.Errorf("%s: got %#x, want %#x", tc.name, got, tc.want)
		}
	}
	a, c = compileFor(t, "arm64", DefaultCapabilities(), testKernel())
	if got := evaluate(t, c.prog, call{arch: unix.AUDIT_ARCH_ARM, nr: nr(t, a, "read")}); got != retKill {
		t.Errorf("arm32 on arm64: got %#x, want kill", got)
	}
	if got := evaluate(t, c.prog, call{arch: a.audit, nr: x32SyscallBit | nr(t, a, "read")}); got != retEPERM {
		t.Errorf("bit 30 on arm64 is just an unknown number: got %#x, want EPERM", got)
	}
}

func TestFilterArgumentConditions(t *testing.T) {
	newFlags := []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP}
	for _, archName := range []string{"amd64", "arm64"} {
		t.Run(archName, func(t *testing.T) {
			a, c := compileFor(t, archName, DefaultCapabilities(), testKernel())
			_, admin := compileFor(t, archName, withSysAdmin(), testKernel())
			check := func(p Program, label, name string, args [6]uint64, want uint32) {
				t.Helper()
				if got := evaluate(t, p, call{arch: a.audit, nr: nr(t, a, name), args: args}); got != want {
					t.Errorf("%s: %s%v: got %#x, want %#x", label, name, args[:2], got, want)
				}
			}
			fork := uint64(unix.SIGCHLD)
			thread := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM)
			vfork := uint64(unix.CLONE_VM | unix.CLONE_VFORK | unix.SIGCHLD)
			for _, flags := range []uint64{0, fork, thread, vfork, 1 << 40} {
				check(c.prog, "default", "clone", [6]uint64{flags}, retAllow)
			}
			for _, f := range newFlags {
				check(c.prog, "default", "clone", [6]uint64{f | fork}, retEPERM)
				check(admin.prog, "sys_admin", "clone", [6]uint64{f | fork}, retAllow)
			}
			check(c.prog, "default", "clone3", [6]uint64{}, retNOSYS)
			check(admin.prog, "sys_admin", "clone3", [6]uint64{}, retAllow)
			for _, name := range []string{"unshare", "setns", "mount", "umount2", "pivot_root", "keyctl", "add_key", "request_key", "init_module", "kexec_load", "reboot", "bpf", "open_by_handle_at"} {
				check(c.prog, "default", name, [6]uint64{}, retEPERM)
			}
			for _, name := range []string{"unshare", "setns", "mount", "umount2"} {
				check(admin.prog, "sys_admin", name, [6]uint64{}, retAllow)
			}
			for _, p := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff} {
				check(c.prog, "default", "personality", [6]uint64{p}, retAllow)
			}
			for _, p := range []uint64{0x0040000 /* ADDR_NO_RANDOMIZE */, 1, 0x1_00000000, 0xffffffff_ffffffff} {
				check(c.prog, "default", "personality", [6]uint64{p}, retEPERM)
			}
			for _, af := range []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK, unix.AF_PACKET, unix.AF_BRIDGE, unix.AF_XDP} {
				check(c.prog, "default", "socket", [6]uint64{af, unix.SOCK_STREAM}, retAllow)
			}
			for _, af := range []uint64{unix.AF_VSOCK, unix.AF_ALG, 0x1_00000000 | unix.AF_INET, 200} {
				check(c.prog, "default", "socket", [6]uint64{af, unix.SOCK_STREAM}, retEPERM)
			}
		})
	}
}

// Includes.MinKernel: ptrace is allowed from 4.8 on, or with CAP_SYS_PTRACE.
func TestFilterMinKernel(t *testing.T) {
	old := seccomp.KernelVersion{Kernel: 4, Major: 7}
	a, c := compileFor(t, "amd64", DefaultCapabilities(), old)
	ptrace := call{arch: a.audit, nr: nr(t, a, "ptrace")}
	if got := evaluate(t, c.prog, ptrace); got != retEPERM {
		t.Errorf("ptrace on 4.7: got %#x, want EPERM", got)
	}
	_, c = compileFor(t, "amd64", append(DefaultCapabilities(), "CAP_SYS_PTRACE"), old)
	if got := evaluate(t, c.prog, ptrace); got != retAllow {
		t.Errorf("ptrace on 4.7 with CAP_SYS_PTRACE: got %#x, want allow", got)
	}
	_, c = compileFor(t, "amd64", DefaultCapabilities(), seccomp.KernelVersion{Kernel: 4, Major: 8})
	if got := evaluate(t, c.prog, ptrace); got != retAllow {
		t.Errorf("ptrace on 4.8: got %#x, want allow", got)
	}
}

// Every operator, at the edges of 64-bit values whose high words differ.
func TestFilterOperators(t *testing.T) {
	a, _ := archFor("amd64")
	const v = 0x5_00000010
	values := []uint64{0, 0xf, 0x10, 0x11, 0x4_ffffffff, 0x5_0000000f, v, 0x5_00000011, 0x6_00000000, 0x6_00000010, 0xffffffff_ffffffff}
	for _, tc := range []struct {
		op   specs.LinuxSeccompOperator
		two  uint64
		want func(x uint64) bool
	}{
		{specs.OpEqualTo, 0, func(x uint64) bool { return x == v }},
		{specs.OpNotEqual, 0, func(x uint64) bool { return x != v }},
		{specs.OpLessThan, 0, func(x uint64) bool { return x < v }},
		{specs.OpLessEqual, 0, func(x uint64) bool { return x <= v }},
		{specs.OpGreaterThan, 0, func(x uint64) bool { return x > v }},
		{specs.OpGreaterEqual, 0, func(x uint64) bool { return x >= v }},
		{specs.OpMaskedEqual, 0x4_00000010, func(x uint64) bool { return x&v == 0x4_00000010 }},
		{specs.OpMaskedEqual, 0, func(x uint64) bool { return x&v == 0 }},
	} {
		p := &seccomp.Seccomp{
			LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno},
			Syscalls: []*seccomp.Syscall{{LinuxSyscall: specs.LinuxSyscall{
				Names:  []string{"read"},
				Action: specs.ActAllow,
				// Argument 3 must equal 7 as well: conditions are ANDed.
				Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: tc.two, Op: tc.op}, {Index: 3, Value: 7, Op: specs.OpEqualTo}},
			}}},
		}
		c, err := compile(p, a, nil, testKernel())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range values {
			for _, arg3 := range []uint64{7, 8} {
				want := retEPERM
				if tc.want(x) && arg3 == 7 {
					want = retAllow
				}
				if got := evaluate(t, c.prog, call{arch: a.audit, nr: 0, args: [6]uint64{0, 0, x, arg3}}); got != want {
					t.Errorf("%s %#x (two %#x): arg %#x, arg3 %d: got %#x, want %#x", tc.op, v, tc.two, x, arg3, got, want)
				}
			}
		}
	}
}

// A profile with a conditional rule on every other system call makes the
// search tree's left halves longer than a conditional jump reaches.
func TestFilterLongJumps(t *testing.T) {
	a, _ := archFor("amd64")
	p := &seccomp.Seccomp{LinuxSeccomp: specs.LinuxSeccomp{DefaultAction: specs.ActErrno}}
	for n := uint32(0); n < 400; n += 2 {
		p.Syscalls = append(p.Syscalls, &seccomp.Syscall{LinuxSyscall: specs.LinuxSyscall{
			Names:  []string{fmt.Sprintf("nr%d", n)},
			Action: specs.ActAllow,
			Args:   []specs.LinuxSeccompArg{{Index: 0, Value: uint64(n), Op: specs.OpEqualTo}},
		}})
	}
	a.sysnum = func(name string) (uint32, bool) {
		var n uint32
		_, err := fmt.Sscanf(name, "nr%d", &n)
		return n, err == nil
	}
	c, err := compile(p, a, nil, testKernel())
	if err != nil {
		t.Fatal(err)
	}
	filter, err := c.prog.decode()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(filter, func(f unix.SockFilter) bool { return f.Code == unix.BPF_JMP|unix.BPF_JA }) {
		t.Fatalf("no long jump in a %d-instruction program: the test no longer covers them", len(filter))
	}
	for n := uint32(0); n < 410; n++ {
		want := retEPERM
		if n < 400 && n%2 == 0 {
			want = retAllow
		}
		if got := evaluate(t, c.prog, call{arch: a.audit, nr: n, args: [6]uint64{uint64(n)}}); got != want {
			t.Errorf("syscall %d with argument %d: got %#x, want %#x", n, n, got, want)
		}
		if got := evaluate(t, c.prog, call{arch: a.audit, nr: n, args: [6]uint64{uint64(n) + 1}}); got != retEPERM {
			t.Errorf("syscall %d with argument %d: got %#x, want EPERM", n, n+1, got)
		}
	}
}

func TestProgramRoundTripAndCorruption(t *testing.T) {
	_, c := compileFor(t, "amd64", DefaultCapabilities(), testKernel())
	filter, err := c.prog.decode()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(encode(filter), c.prog) {
		t.Fatal("decode then encode changed the program")
	}
	for _, bad := range []Program{nil, c.prog[:len(c.prog)-3], make(Program, (maxInstructions+1)*sockFilterSize)} {
		if err := InstallSeccomp(bad); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("InstallSeccomp(%d bytes): err = %v, want a corrupt-program error", len(bad), err)
		}
	}
}

func BenchmarkDefaultSeccompCompile(b *testing.B) {
	if _, err := archFor(runtime.GOARCH); err != nil {
		b.Skipf("no filter for this architecture: %v", err)
	}
	var p Program
	for b.Loop() {
		var err error
		if p, err = DefaultSeccomp(DefaultCapabilities()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.Len()), "insns")
}
