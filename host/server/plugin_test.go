package server_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/server"
)

const trustManifest = "name: scorer\nversion: 1.0.0\nkind: trust\nabi: 1\n"

// push streams one upload and returns the server's answer.
func push(t *testing.T, d *daemon, msgs ...*v1.UploadPluginRequest) (*v1.Operation, error) {
	t.Helper()
	stream, err := v1.NewPluginServiceClient(d.conn).UploadPlugin(d.ctx())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server ended the stream; CloseAndRecv says why
		}
	}
	return stream.CloseAndRecv()
}

func header(manifest string, sig []byte, size int64) *v1.UploadPluginRequest {
	return &v1.UploadPluginRequest{Part: &v1.UploadPluginRequest_Header{Header: &v1.UploadPluginHeader{Manifest: []byte(manifest), Signature: sig, SizeBytes: size}}}
}

func chunk(b []byte) *v1.UploadPluginRequest {
	return &v1.UploadPluginRequest{Part: &v1.UploadPluginRequest_Chunk{Chunk: b}}
}

func TestBadUploadsAreRefusedAndTheDaemonServesOn(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.MaxPluginBytes = 4096
	srv, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(t, srv, dir)
	module := []byte("\x00asm\x01\x00\x00\x00")

	_, err = push(t, d, chunk(module))
	wantField(t, err, "header")
	_, err = push(t, d, header(trustManifest, nil, 0), chunk(make([]byte, 3000)), chunk(make([]byte, 3000)))
	wantCode(t, err, codes.ResourceExhausted, "4096-byte limit")
	_, err = push(t, d, header(trustManifest, nil, 1<<20))
	wantCode(t, err, codes.ResourceExhausted, "max-plugin-bytes")
	_, err = push(t, d, header(trustManifest, nil, 100), chunk(module))
	wantField(t, err, "header.size_bytes")
	_, err = push(t, d, header("name: Bad\n", nil, 0), chunk(module))
	wantField(t, err, "header.manifest")
	_, err = push(t, d, header(trustManifest, nil, 0), chunk(module))
	wantCode(t, err, codes.PermissionDenied, "not signed")
	_, err = push(t, d, header(trustManifest, []byte("AAAA"), 0), chunk(module))
	wantCode(t, err, codes.PermissionDenied, "signature")

	plugins := v1.NewPluginServiceClient(d.conn)
	list, err := plugins.ListPlugins(d.ctx(), &v1.ListPluginsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range list.GetPlugins() {
		if p.GetMetadata().GetName() == "scorer" {
			t.Fatalf("a refused upload was stored: %v", p)
		}
	}
	_, err = plugins.AddTrustedKey(d.ctx(), &v1.AddTrustedKeyRequest{Key: &v1.TrustedKey{PublicKey: []byte("nope")}})
	wantField(t, err, "key.public_key")
	_, err = plugins.PromotePlugin(d.ctx(), &v1.PromotePluginRequest{Name: "scorer"})
	wantField(t, err, "version")
	_, err = plugins.RollbackPlugin(d.ctx(), &v1.RollbackPluginRequest{Name: "missing"})
	wantCode(t, err, codes.NotFound, "missing")
	_, err = v1.NewOperationServiceClient(d.conn).WaitOperation(d.ctx(), &v1.WaitOperationRequest{Name: "upload-nothing-1-0-0"})
	wantCode(t, err, codes.NotFound, "")
	if _, err := v1.NewClusterServiceClient(d.conn).GetVersion(d.ctx(), &v1.GetVersionRequest{}); err != nil {
		t.Fatalf("after bad uploads: %v", err)
	}
}
