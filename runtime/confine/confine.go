// Package confine holds the confinement a container's init applies to
// itself just before execve: Landlock, a minimal capability set,
// no_new_privs and a seccomp filter close to Docker's default profile.
//
// Capabilities and no_new_privs are per-thread, so the init calls these on
// one goroutine locked to its OS thread (runtime.LockOSThread), in this
// order, and then execs on that same thread:
//
//	confine.RestrictFS(rules)         // Landlock, best effort
//	confine.DropCapabilities(keep)    // keep: usually DefaultCapabilities()
//	confine.SetNoNewPrivs()
//	confine.InstallSeccomp(prog)      // prog from DefaultSeccomp, compiled once by the parent
//	unix.Exec(...)
//
// The seccomp filter goes last because it may deny the system calls the
// other steps make. RestrictFS and InstallSeccomp apply to every thread of
// the process; the rest only to the calling thread, which is the one that
// survives execve.
package confine
