package server

import (
	"bytes"
	"context"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/registry"
)

// pluginService serves PluginService from the registry.
type pluginService struct {
	v1.UnimplementedPluginServiceServer
	reg      *registry.Registry
	maxBytes int64
}

// registryError maps registry errors onto gRPC statuses.
func registryError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, registry.ErrBadKey):
		return invalidField("key.public_key", "%v", err)
	case errors.Is(err, registry.ErrManifest):
		return invalidField("header.manifest", "%v", err)
	case errors.Is(err, registry.ErrUnsigned), errors.Is(err, registry.ErrBadSignature), errors.Is(err, registry.ErrRevokedKey):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, registry.ErrTooLarge):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, registry.ErrState):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return storeError(err)
}

func (s *pluginService) UploadPlugin(stream v1.PluginService_UploadPluginServer) error {
	first, err := stream.Recv()
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "upload ended before its header: %v", err)
	}
	h := first.GetHeader()
	if h == nil {
		return invalidField("header", "the first message of an upload must be the header (manifest and signature)")
	}
	if err := checkRequestID(h.GetRequestId()); err != nil {
		return err
	}
	if h.GetSizeBytes() < 0 || h.GetSizeBytes() > s.maxBytes {
		return status.Errorf(codes.ResourceExhausted, "plugin module of %d bytes is over the %d-byte limit (max-plugin-bytes)", h.GetSizeBytes(), s.maxBytes)
	}
	var module bytes.Buffer
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if msg.GetHeader() != nil {
			return invalidField("header", "sent twice: send the header first, then only chunks")
		}
		if int64(module.Len()+len(msg.GetChunk())) > s.maxBytes {
			return status.Errorf(codes.ResourceExhausted, "plugin module is over the %d-byte limit (max-plugin-bytes); nothing was stored", s.maxBytes)
		}
		module.Write(msg.GetChunk())
	}
	if h.GetSizeBytes() != 0 && int64(module.Len()) != h.GetSizeBytes() {
		return invalidField("header.size_bytes", "the header announced %d bytes but %d arrived; the upload was cut short, send it again", h.GetSizeBytes(), module.Len())
	}
	op, err := s.reg.Upload(stream.Context(), h.GetManifest(), h.GetSignature(), module.Bytes(), h.GetRequestId())
	if err != nil {
		return registryError(err)
	}
	return stream.SendAndClose(op)
}

func (s *pluginService) GetPlugin(ctx context.Context, req *v1.GetPluginRequest) (*v1.Plugin, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	p, err := s.reg.Plugins().Get(ctx, req.GetName())
	return p, storeError(err)
}

func (s *pluginService) ListPlugins(ctx context.Context, req *v1.ListPluginsRequest) (*v1.ListPluginsResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := s.reg.Plugins().List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListPluginsResponse{Plugins: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (s *pluginService) DeletePlugin(ctx context.Context, req *v1.DeletePluginRequest) (*v1.Plugin, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	p, err := s.reg.Delete(ctx, req.GetName(), req.GetVersion())
	return p, registryError(err)
}

func (s *pluginService) WatchPlugins(req *v1.WatchPluginsRequest, stream v1.PluginService_WatchPluginsServer) error {
	return watch(stream.Context(), s.reg.Plugins(), req.GetResourceVersion(), func(t v1.EventType, obj *v1.Plugin) error {
		return stream.Send(&v1.WatchPluginsResponse{Type: t, Plugin: obj})
	})
}

func (s *pluginService) PromotePlugin(ctx context.Context, req *v1.PromotePluginRequest) (*v1.Plugin, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	if req.GetVersion() == "" {
		return nil, invalidField("version", "is required")
	}
	p, err := s.reg.Promote(ctx, req.GetName(), req.GetVersion())
	return p, registryError(err)
}

func (s *pluginService) RollbackPlugin(ctx context.Context, req *v1.RollbackPluginRequest) (*v1.Plugin, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	p, err := s.reg.Rollback(ctx, req.GetName())
	return p, registryError(err)
}

func (s *pluginService) AddTrustedKey(ctx context.Context, req *v1.AddTrustedKeyRequest) (*v1.TrustedKey, error) {
	if len(req.GetKey().GetPublicKey()) == 0 {
		return nil, invalidField("key.public_key", "is required: the PEM public key from 'swarmctl plugin keygen'")
	}
	k, err := s.reg.AddKey(ctx, req.GetKey().GetPublicKey(), req.GetKey().GetMetadata().GetAnnotations()["comment"])
	return k, registryError(err)
}

func (s *pluginService) ListTrustedKeys(ctx context.Context, req *v1.ListTrustedKeysRequest) (*v1.ListTrustedKeysResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), "")
	if err != nil {
		return nil, err
	}
	page, err := s.reg.Keys().List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListTrustedKeysResponse{Keys: page.Items, NextPageToken: page.NextPageToken}, nil
}

func (s *pluginService) RevokeTrustedKey(ctx context.Context, req *v1.RevokeTrustedKeyRequest) (*v1.TrustedKey, error) {
	if req.GetKeyId() == "" {
		return nil, invalidField("key_id", "is required")
	}
	k, err := s.reg.RevokeKey(ctx, req.GetKeyId())
	return k, registryError(err)
}
