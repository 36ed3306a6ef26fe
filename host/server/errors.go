package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stratoswarm/stratoswarm/host/store"
)

// invalidField is an INVALID_ARGUMENT naming the field, with a
// google.rpc.BadRequest detail.
func invalidField(field, format string, args ...any) error {
	desc := fmt.Sprintf(format, args...)
	st := status.New(codes.InvalidArgument, fmt.Sprintf("invalid %s: %s", field, desc))
	st, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}})
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid %s: %s", field, desc)
	}
	return st.Err()
}

// storeError maps a store error onto a gRPC status.
func storeError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, store.ErrConflict):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, store.ErrCompacted):
		return status.Error(codes.OutOfRange, err.Error())
	case errors.Is(err, store.ErrBadVersion):
		return invalidField("resource_version", "%v", err)
	case errors.Is(err, store.ErrBadPageToken):
		return invalidField("page_token", "%v", err)
	}
	return status.Error(codes.Internal, err.Error())
}
