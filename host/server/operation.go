package server

import (
	"context"
	"errors"
	"strings"
	"time"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// operationService serves OperationService from the store. Long-running
// work (plugin uploads, evolutions) writes Operations; Wait and Cancel
// arrive with the first producer.
type operationService struct {
	v1.UnimplementedOperationServiceServer
	ops *store.Repository[*v1.Operation]
}

func checkOperationName(name string) error {
	// Operations are named "<kind>-<id>", e.g. "uploadplugin-3f2a...".
	if name == "" || len(name) > 253 || strings.ContainsAny(name, "/ \t\n") {
		return invalidField("name", "%q is not an operation name", name)
	}
	return nil
}

func (s *operationService) GetOperation(ctx context.Context, req *v1.GetOperationRequest) (*v1.Operation, error) {
	if err := checkOperationName(req.GetName()); err != nil {
		return nil, err
	}
	op, err := s.ops.Get(ctx, req.GetName())
	return op, storeError(err)
}

func (s *operationService) ListOperations(ctx context.Context, req *v1.ListOperationsRequest) (*v1.ListOperationsResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := s.ops.List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListOperationsResponse{Operations: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

// maxWait bounds one WaitOperation call; clients loop for longer waits.
const maxWait = 10 * time.Minute

func (s *operationService) WaitOperation(ctx context.Context, req *v1.WaitOperationRequest) (*v1.Operation, error) {
	if err := checkOperationName(req.GetName()); err != nil {
		return nil, err
	}
	timeout := 30 * time.Second
	if t := req.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil || t.AsDuration() < 0 {
			return nil, invalidField("timeout", "must be a non-negative duration")
		}
		timeout = min(t.AsDuration(), maxWait)
	}
	op, err := s.ops.Get(ctx, req.GetName())
	if err != nil || op.GetDone() || timeout == 0 {
		return op, storeError(err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errDone := errors.New("done")
	err = s.ops.Watch(wctx, op.GetMetadata().GetResourceVersion(), func(e store.Event[*v1.Operation]) error {
		if e.Object.GetMetadata().GetName() == req.GetName() {
			op = e.Object
			if op.GetDone() || e.Type == store.Deleted {
				return errDone
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errDone), errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return op, nil // done, or the wait's own timeout: return the latest state
	}
	return nil, storeError(err)
}

func (s *operationService) WatchOperations(req *v1.WatchOperationsRequest, stream v1.OperationService_WatchOperationsServer) error {
	return watch(stream.Context(), s.ops, req.GetResourceVersion(), func(t v1.EventType, obj *v1.Operation) error {
		return stream.Send(&v1.WatchOperationsResponse{Type: t, Operation: obj})
	})
}
