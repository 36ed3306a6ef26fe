package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/store"
)

// eventType maps a store event onto the API's.
func eventType(t store.EventType) v1.EventType {
	switch t {
	case store.Added:
		return v1.EventType_ADDED
	case store.Modified:
		return v1.EventType_MODIFIED
	case store.Deleted:
		return v1.EventType_DELETED
	case store.Bookmark:
		return v1.EventType_BOOKMARK
	}
	return v1.EventType_EVENT_TYPE_UNSPECIFIED
}

// watch streams a repository's changes through send, which wraps an event
// in the kind's response message.
func watch[T store.Object](ctx context.Context, repo *store.Repository[T], resourceVersion string, send func(v1.EventType, T) error) error {
	err := repo.Watch(ctx, resourceVersion, func(e store.Event[T]) error {
		return send(eventType(e.Type), e.Object)
	})
	if errors.Is(context.Cause(ctx), errShuttingDown) {
		return status.Error(codes.Unavailable, "swarmd is shutting down: watch again from the last resource version you saw")
	}
	if ctx.Err() != nil {
		return nil // the client went away
	}
	return storeError(err)
}
