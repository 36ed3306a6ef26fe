package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/resources"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/runtime/container"
	"github.com/stratoswarm/stratoswarm/runtime/native"
)

// kindContainer is the store kind of containers.
const kindContainer = "containers"

// Phases of a container record (ContainerStatus.phase).
const (
	phaseCreated = "Created"
	phaseRunning = "Running"
	phaseExited  = "Exited"
	phaseFailed  = "Failed"
)

// Runtime names a ContainerSpec may carry.
const (
	runtimeContainerd = "containerd"
	runtimeNative     = "native"
)

// runtimeChoices lists the runtime names for errors.
const runtimeChoices = runtimeNative + ", " + runtimeContainerd

// defaultStopGrace is how long StopContainer waits after SIGTERM before
// SIGKILL when the request gives no grace period.
const defaultStopGrace = 10 * time.Second

// logPollEvery is how often a followed log is read again.
const logPollEvery = 200 * time.Millisecond

// reasonRestarted marks a container whose exit swarmd noticed only when it
// started again.
const reasonRestarted = "swarmd restarted"

// errNoChange makes a Modify write nothing.
var errNoChange = errors.New("no change")

// containerService serves ContainerService: container records live in the
// store, the containers themselves in the runtime each record names
// (spec.runtime).
type containerService struct {
	v1.UnimplementedContainerServiceServer
	containers *store.Repository[*v1.Container]
	// runtimes are the runtimes by name (native, containerd), each one
	// either there or saying why not.
	runtimes map[string]runtimeSlot
	// defaultRuntime runs the containers whose spec names no runtime
	// (swarmd's container-runtime); it is then written into their spec.
	defaultRuntime string
	node           string
	log            *slog.Logger
	// stopping ends the waiters when swarmd shuts down; wg counts them.
	stopping context.Context
	wg       *sync.WaitGroup
}

// runtimeSlot is one runtime of the service: rt, or when there is none,
// down, the FAILED_PRECONDITION that says why and what to do.
type runtimeSlot struct {
	rt   container.Runtime
	down error
}

// unavailable is the FAILED_PRECONDITION for a runtime swarmd could not
// create; err says why and what to do.
func unavailable(err error) error {
	return status.Error(codes.FailedPrecondition, err.Error())
}

// runtimeOf is the runtime that runs c, or the error saying why it is not
// there. A record without a runtime predates their storing, when every
// container was containerd's.
func (s *containerService) runtimeOf(c *v1.Container) (container.Runtime, error) {
	name := c.GetSpec().GetRuntime()
	if name == "" {
		name = runtimeContainerd
	}
	slot, ok := s.runtimes[name]
	switch {
	case !ok:
		return nil, status.Errorf(codes.FailedPrecondition, "container %q names runtime %q, which this swarmd does not have (it has %s): delete the container", c.GetMetadata().GetName(), name, runtimeChoices)
	case slot.rt == nil:
		return nil, slot.down
	}
	return slot.rt, nil
}

// noContainerd is the FAILED_PRECONDITION for a containerd container on a
// swarmd without containerd-address.
func noContainerd() error {
	return status.Error(codes.FailedPrecondition, "no containerd runtime: start swarmd with --containerd-address (or SWARMD_CONTAINERD_ADDRESS) set to a containerd socket; hack/containerd.sh start DIR runs one and prints its socket")
}

// runtimeError maps a container runtime error onto a gRPC status.
func runtimeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, container.ErrImageNotFound):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, container.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, container.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, container.ErrRunning):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return storeError(err)
}

// checkContainer validates what a client may set on a container.
func checkContainer(c *v1.Container) error {
	if c == nil {
		return invalidField("container", "is required")
	}
	if err := checkName("container.metadata.name", c.GetMetadata().GetName()); err != nil {
		return err
	}
	if err := checkLabels("container.metadata.labels", c.GetMetadata().GetLabels()); err != nil {
		return err
	}
	spec := c.GetSpec()
	if spec == nil {
		return invalidField("container.spec", "is required")
	}
	if spec.GetImage() == "" {
		return invalidField("container.spec.image", "is required: for runtime native, %s (the empty image), the absolute path of an OCI image layout directory or tar, or the name of an image imported earlier by path; for containerd, %s or an image imported into containerd", native.Scratch, native.Scratch)
	}
	switch spec.GetRuntime() {
	case "", runtimeContainerd, runtimeNative:
	default:
		return invalidField("container.spec.runtime", "%q is not one of %s (empty: swarmd's container-runtime)", spec.GetRuntime(), runtimeChoices)
	}
	if h := spec.GetHostname(); h != "" && !dnsLabel.MatchString(h) {
		return invalidField("container.spec.hostname", "%q must be 1-63 lowercase letters, digits or '-', start with a letter and end with a letter or digit", h)
	}
	for k := range spec.GetEnv() {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalidField("container.spec.env", "key %q must be non-empty and contain no '=' or NUL", k)
		}
	}
	for i, m := range spec.GetMounts() {
		if !filepath.IsAbs(m.GetSource()) {
			return invalidField(fmt.Sprintf("container.spec.mounts[%d].source", i), "%q must be an absolute host path", m.GetSource())
		}
		if !filepath.IsAbs(m.GetTarget()) {
			return invalidField(fmt.Sprintf("container.spec.mounts[%d].target", i), "%q must be an absolute path in the container", m.GetTarget())
		}
	}
	if err := resources.Check(spec.GetResources()); err != nil {
		var fe *resources.FieldError
		if errors.As(err, &fe) {
			return invalidField("container.spec.resources."+fe.Field, "%s", fe.Msg)
		}
		return invalidField("container.spec.resources", "%v", err)
	}
	return nil
}

// runtimeSpec maps a container's spec onto the runtime's.
func runtimeSpec(c *v1.Container) container.Spec {
	spec := c.GetSpec()
	env := make([]string, 0, len(spec.GetEnv()))
	for k, v := range spec.GetEnv() {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	var mounts []container.Mount
	for _, m := range spec.GetMounts() {
		mounts = append(mounts, container.Mount{Source: m.GetSource(), Target: m.GetTarget(), ReadOnly: m.GetReadOnly()})
	}
	limits := resources.Limits(spec.GetResources())
	// The cpu tier's quota is the memory limit; runtimes that still read
	// MemoryBytes get it there too (checkContainer refused two values).
	limits.MemoryBytes = limits.Memory()
	return container.Spec{
		ID:       c.GetMetadata().GetName(),
		Image:    spec.GetImage(),
		Command:  spec.GetCommand(),
		Env:      env,
		Hostname: spec.GetHostname(),
		Mounts:   mounts,
		Limits:   limits,
	}
}

// terminal says the phase is final.
func terminal(phase string) bool { return phase == phaseExited || phase == phaseFailed }

// applyStatus copies the runtime's view onto a record's status; reason,
// when set, replaces the runtime's for an exit.
func applyStatus(c *v1.Container, st container.Status, reason string) {
	if c.Status == nil {
		c.Status = &v1.ContainerStatus{}
	}
	s := c.Status
	if len(st.Warnings) > 0 {
		s.Warnings = st.Warnings
	}
	if !st.StartedAt.IsZero() {
		s.StartTime = timestamppb.New(st.StartedAt)
	}
	switch st.State {
	case container.Running:
		s.Phase = phaseRunning
		s.Pid = int32(st.Pid)
	case container.Exited:
		s.Pid = 0
		s.ExitCode = int32(st.ExitCode)
		s.OomKilled = st.OOMKilled
		s.Reason = st.Reason
		if reason != "" {
			s.Reason = reason
		}
		if !st.ExitedAt.IsZero() {
			s.FinishTime = timestamppb.New(st.ExitedAt)
		} else {
			s.FinishTime = timestamppb.Now()
		}
		// A clean exit or one StopContainer asked for is Exited; any other
		// non-zero exit (a crash, the OOM killer) is Failed.
		if st.ExitCode == 0 || (st.Reason == "Stopped" && !st.OOMKilled) {
			s.Phase = phaseExited
		} else {
			s.Phase = phaseFailed
		}
	default:
		s.Phase = phaseCreated
	}
}

// record writes st onto the record called name unless it is already
// final or (uid set) is another container of the same name, and returns
// the record. A record deleted meanwhile is NotFound.
func (s *containerService) record(name, uid string, st container.Status, reason string) (*v1.Container, error) {
	out, err := s.containers.Modify(context.Background(), name, nil, func(c *v1.Container) error {
		if terminal(c.GetStatus().GetPhase()) || (uid != "" && c.GetMetadata().GetUid() != uid) {
			return errNoChange
		}
		applyStatus(c, st, reason)
		return nil
	})
	if errors.Is(err, errNoChange) {
		return s.containers.Get(context.Background(), name)
	}
	return out, err
}

// fail marks the record called name Failed with reason.
func (s *containerService) fail(name, reason string) {
	_, err := s.containers.Modify(context.Background(), name, nil, func(c *v1.Container) error {
		if terminal(c.GetStatus().GetPhase()) {
			return errNoChange
		}
		if c.Status == nil {
			c.Status = &v1.ContainerStatus{}
		}
		c.Status.Phase, c.Status.Reason, c.Status.Pid = phaseFailed, reason, 0
		c.Status.FinishTime = timestamppb.Now()
		return nil
	})
	if err != nil && !errors.Is(err, errNoChange) && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("record container failure", "container", name, "err", err)
	}
}

// waitFor records the exit of the container rt runs in the background; on
// shutdown it gives up and the next start reconciles.
func (s *containerService) waitFor(rt container.Runtime, name, uid string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if _, err := rt.Wait(s.stopping, name); err != nil && s.stopping.Err() == nil {
			s.log.Debug("wait for container", "container", name, "err", err)
		}
		if s.stopping.Err() != nil {
			return
		}
		// A fresh Status rather than Wait's: Wait's container was loaded
		// before a StopContainer marked it stopped.
		st, err := rt.Status(context.Background(), name)
		if err != nil {
			if errors.Is(err, container.ErrNotFound) {
				s.fail(name, "the container disappeared from "+rt.Name())
				return
			}
			s.log.Warn("status of exited container", "container", name, "err", err)
			return
		}
		if st.State != container.Exited {
			s.log.Warn("wait for container returned before it exited", "container", name, "state", st.State)
			return
		}
		if _, err := s.record(name, uid, st, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("record container exit", "container", name, "err", err)
		}
	}()
}

// reconcile brings records of running containers up to date with their
// runtimes after a restart and waits again for the ones still running.
// The native runtime records the containers it lost with the swarmd that
// ran them as exited, with a reason that says so.
func (s *containerService) reconcile(ctx context.Context) error {
	for c, err := range s.containers.All(ctx) {
		if err != nil {
			return err
		}
		if terminal(c.GetStatus().GetPhase()) {
			continue
		}
		name := c.GetMetadata().GetName()
		rt, err := s.runtimeOf(c)
		if err != nil {
			// Native containers end with the swarmd that ran them;
			// containerd ones may still run, and wait for containerd.
			if c.GetSpec().GetRuntime() == runtimeNative {
				s.fail(name, reasonRestarted+": native containers stop with swarmd, and now "+status.Convert(err).Message())
			}
			continue
		}
		st, err := rt.Status(ctx, name)
		switch {
		case errors.Is(err, container.ErrNotFound):
			s.fail(name, reasonRestarted+": the container is gone from "+rt.Name())
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("reconcile container", "container", name, "err", err)
		case st.State == container.Exited:
			// The runtime's reason when it has one (native: Lost...).
			reason := ""
			if st.Reason == "" {
				reason = reasonRestarted
			}
			if _, err := s.record(name, "", st, reason); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("reconcile container", "container", name, "err", err)
			}
		case st.State == container.Running:
			if _, err := s.record(name, "", st, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.log.Warn("reconcile container", "container", name, "err", err)
			}
			s.waitFor(rt, name, c.GetMetadata().GetUid())
		default: // created but never started: swarmd died between Create and Start
			s.fail(name, reasonRestarted+": the container was created but never started; delete it and create it again")
		}
	}
	return nil
}

func (s *containerService) CreateContainer(ctx context.Context, req *v1.CreateContainerRequest) (*v1.Container, error) {
	if err := checkContainer(req.GetContainer()); err != nil {
		return nil, err
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, err
	}
	c := req.GetContainer()
	// The record keeps the runtime: a later change of the default does
	// not move the container.
	if c.GetSpec().GetRuntime() == "" {
		c.Spec.Runtime = s.defaultRuntime
	}
	if n := c.GetSpec().GetNode(); n != "" && n != s.node {
		return nil, status.Errorf(codes.FailedPrecondition, "container.spec.node %q is not this node (%q): this swarmd runs containers only on its own node; leave node empty or send the request to that node's swarmd", n, s.node)
	}
	rt, err := s.runtimeOf(c)
	if err != nil {
		return nil, err
	}
	c.Spec.Node = s.node
	c.Status = &v1.ContainerStatus{Phase: phaseCreated}
	out, created, err := s.containers.Create(ctx, c, req.GetRequestId())
	if err != nil || !created {
		return out, storeError(err)
	}
	name := out.GetMetadata().GetName()
	// Runtime work outlives a cancelled request: a half-made container
	// would be worse than a finished one nobody asked about.
	rctx := context.WithoutCancel(ctx)
	undo := func(cause error) (*v1.Container, error) {
		if _, err := s.containers.Delete(rctx, name, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("remove record of failed container", "container", name, "err", err)
		}
		return nil, cause
	}
	if err := rt.Create(rctx, runtimeSpec(out)); err != nil {
		// What a runtime refuses beyond its sentinels is the request's
		// doing too: an image it cannot import, no command, limits it
		// cannot enforce.
		if st := runtimeError(err); status.Code(st) != codes.Internal {
			return undo(st)
		}
		return undo(status.Error(codes.FailedPrecondition, err.Error()))
	}
	if err := rt.Start(rctx, name); err != nil {
		if derr := rt.Delete(rctx, name); derr != nil {
			s.log.Warn("remove container that did not start", "container", name, "err", derr)
		}
		return undo(status.Error(codes.FailedPrecondition, err.Error()))
	}
	st, err := rt.Status(rctx, name)
	if err != nil {
		s.log.Warn("status of started container", "container", name, "err", err)
		st = container.Status{ID: name, State: container.Running, StartedAt: time.Now()}
	}
	uid := out.GetMetadata().GetUid()
	out, err = s.record(name, uid, st, "")
	s.waitFor(rt, name, uid)
	return out, storeError(err)
}

func (s *containerService) GetContainer(ctx context.Context, req *v1.GetContainerRequest) (*v1.Container, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	c, err := s.containers.Get(ctx, req.GetName())
	return c, storeError(err)
}

func (s *containerService) ListContainers(ctx context.Context, req *v1.ListContainersRequest) (*v1.ListContainersResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := s.containers.List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListContainersResponse{Containers: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (s *containerService) WatchContainers(req *v1.WatchContainersRequest, stream v1.ContainerService_WatchContainersServer) error {
	return watch(stream.Context(), s.containers, req.GetResourceVersion(), func(t v1.EventType, obj *v1.Container) error {
		return stream.Send(&v1.WatchContainersResponse{Type: t, Container: obj})
	})
}

// get loads a record.
func (s *containerService) get(ctx context.Context, name string) (*v1.Container, error) {
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	c, err := s.containers.Get(ctx, name)
	if err != nil {
		return nil, storeError(err)
	}
	return c, nil
}

func (s *containerService) StopContainer(ctx context.Context, req *v1.StopContainerRequest) (*v1.Container, error) {
	c, err := s.get(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if terminal(c.GetStatus().GetPhase()) {
		return c, nil
	}
	rt, err := s.runtimeOf(c)
	if err != nil {
		return nil, err
	}
	grace := defaultStopGrace
	if g := req.GetGracePeriod(); g != nil {
		if err := g.CheckValid(); err != nil || g.AsDuration() < 0 {
			return nil, invalidField("grace_period", "must be a non-negative duration")
		}
		grace = g.AsDuration()
	}
	return s.stop(ctx, rt, req.GetName(), grace)
}

// stop stops the container rt runs and records its exit.
func (s *containerService) stop(ctx context.Context, rt container.Runtime, name string, grace time.Duration) (*v1.Container, error) {
	if err := rt.Stop(ctx, name, grace); err != nil {
		if errors.Is(err, container.ErrNotFound) {
			s.fail(name, "the container is gone from "+rt.Name())
			out, gerr := s.containers.Get(ctx, name)
			return out, storeError(gerr)
		}
		return nil, runtimeError(err)
	}
	st, err := rt.Status(ctx, name)
	if err != nil {
		return nil, runtimeError(err)
	}
	out, err := s.record(name, "", st, "")
	return out, storeError(err)
}

func (s *containerService) DeleteContainer(ctx context.Context, req *v1.DeleteContainerRequest) (*v1.Container, error) {
	c, err := s.get(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	name := req.GetName()
	// Without its runtime only a finished container's record can go.
	if rt, err := s.runtimeOf(c); err != nil {
		if !terminal(c.GetStatus().GetPhase()) {
			return nil, err
		}
	} else {
		if req.GetForce() {
			if _, err := s.stop(ctx, rt, name, 0); err != nil && status.Code(err) != codes.NotFound {
				return nil, err
			}
		}
		if err := rt.Delete(ctx, name); err != nil && !errors.Is(err, container.ErrNotFound) {
			if errors.Is(err, container.ErrRunning) {
				return nil, status.Errorf(codes.FailedPrecondition, "container %q is running: stop it first (StopContainer), or delete it with force", name)
			}
			return nil, runtimeError(err)
		}
	}
	out, err := s.containers.Delete(ctx, name, "")
	return out, storeError(err)
}

// ContainerLogs streams the container's log. Both runtimes keep stdout
// and stderr in one interleaved log, so stream is left empty.
func (s *containerService) ContainerLogs(req *v1.ContainerLogsRequest, stream v1.ContainerService_ContainerLogsServer) error {
	ctx := stream.Context()
	c, err := s.get(ctx, req.GetName())
	if err != nil {
		return err
	}
	if req.GetTailLines() < 0 {
		return invalidField("tail_lines", "%d must not be negative (0 means the whole log)", req.GetTailLines())
	}
	rt, err := s.runtimeOf(c)
	if err != nil {
		return err
	}
	name := req.GetName()
	return streamLog(ctx, s.stopping, logSource{
		open: func() (io.ReadCloser, error) { return rt.Logs(ctx, name) },
		done: func() (bool, error) {
			c, err := s.containers.Get(ctx, name)
			if err != nil {
				return false, storeError(err)
			}
			return terminal(c.GetStatus().GetPhase()), nil
		},
		what: "container " + name,
	}, req.GetTailLines(), req.GetFollow(), func(b []byte) error {
		return stream.Send(&v1.ContainerLogsResponse{Data: b})
	})
}

// logSource is a log to stream: how to open it, and whether its writer
// has finished (following stops then).
type logSource struct {
	open func() (io.ReadCloser, error)
	done func() (bool, error)
	what string
}

// streamLog sends the log's last tail lines (all of it for 0), then, when
// follow, what is appended until its writer finishes, the client goes or
// swarmd stops (stopping ends).
func streamLog(ctx, stopping context.Context, src logSource, tail int64, follow bool, send func([]byte) error) error {
	var off int64
	// read sends what the log holds past off.
	read := func(tail int64) error {
		r, err := src.open()
		if err != nil {
			return runtimeError(err)
		}
		defer r.Close()
		if sk, ok := r.(io.Seeker); ok && off > 0 {
			if _, err := sk.Seek(off, io.SeekStart); err != nil {
				return status.Errorf(codes.Internal, "read the log of %s: %v", src.what, err)
			}
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return status.Errorf(codes.Internal, "read the log of %s: %v", src.what, err)
		}
		off += int64(len(b))
		if tail > 0 {
			b = lastLines(b, tail)
		}
		for len(b) > 0 {
			n := min(len(b), 32<<10)
			if err := send(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	if err := read(tail); err != nil || !follow {
		return err
	}
	t := time.NewTicker(logPollEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stopping.Done():
			return status.Error(codes.Unavailable, "swarmd is shutting down: ask for the logs again")
		case <-t.C:
		}
		done, err := src.done()
		if err != nil {
			return err
		}
		if err := read(0); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int64) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}
