package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// unauthenticated lists the methods that need no token: health checks.
func unauthenticated(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}

// checkToken verifies the bearer token in the call's metadata.
func checkToken(ctx context.Context, token string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return status.Error(codes.Unauthenticated, "missing bearer token: send 'authorization: Bearer <token>'; the token is in <data-dir>/token")
	}
	got, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return status.Error(codes.Unauthenticated, "authorization must be 'Bearer <token>'")
	}
	if !tokenEqual(got, token) {
		return status.Error(codes.Unauthenticated, "wrong bearer token: use the one in <data-dir>/token")
	}
	return nil
}

// tokenEqual compares tokens in constant time.
func tokenEqual(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) == 1
}

// DefaultRequestLimit is the largest unary request a method takes unless
// it has its own limit.
const DefaultRequestLimit = 1 << 20

// MaxMessageBytes is the largest message gRPC will decode at all.
const MaxMessageBytes = 4 << 20

// requestLimits are per-method request size limits in bytes; methods not
// listed get DefaultRequestLimit.
type requestLimits map[string]int

func (l requestLimits) of(method string) int {
	if n, ok := l[method]; ok {
		return n
	}
	return DefaultRequestLimit
}

// metrics are the gRPC server's Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmd_grpc_requests_total",
			Help: "gRPC calls handled, by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "swarmd_grpc_request_duration_seconds",
			Help:    "Time to handle a unary gRPC call, or the life of a stream.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *metrics) observe(method string, start time.Time, err error) {
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// interceptors bundles what every call goes through: recovery, metrics,
// logging, authentication and size limits.
type interceptors struct {
	// stopping is cancelled when the server shuts down; it ends streams.
	stopping context.Context
	token    string
	limits   requestLimits
	metrics  *metrics
	log      *slog.Logger
}

func (ic *interceptors) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			ic.log.Error("panic in handler", "method", info.FullMethod, "panic", r)
			err = status.Errorf(codes.Internal, "internal error in %s; see the swarmd log", info.FullMethod)
		}
		ic.metrics.observe(info.FullMethod, start, err)
		ic.logCall(info.FullMethod, start, err)
	}()
	if !unauthenticated(info.FullMethod) {
		if err := checkToken(ctx, ic.token); err != nil {
			return nil, err
		}
	}
	if m, ok := req.(proto.Message); ok {
		if n, limit := proto.Size(m), ic.limits.of(info.FullMethod); n > limit {
			return nil, status.Errorf(codes.ResourceExhausted, "request of %d bytes is over the %d-byte limit of %s", n, limit, info.FullMethod)
		}
	}
	return handler(ctx, req)
}

func (ic *interceptors) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			ic.log.Error("panic in stream handler", "method", info.FullMethod, "panic", r)
			err = status.Errorf(codes.Internal, "internal error in %s; see the swarmd log", info.FullMethod)
		}
		ic.metrics.observe(info.FullMethod, start, err)
		ic.logCall(info.FullMethod, start, err)
	}()
	if !unauthenticated(info.FullMethod) {
		if err := checkToken(ss.Context(), ic.token); err != nil {
			return err
		}
	}
	// Streams (watches) end when the server stops, so a graceful shutdown
	// does not wait for clients that would never hang up.
	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	stopAfter := context.AfterFunc(ic.stopping, func() { cancel(errShuttingDown) })
	defer stopAfter()
	return handler(srv, &limitedStream{ServerStream: ss, ctx: ctx, limit: ic.limits.of(info.FullMethod), method: info.FullMethod})
}

// errShuttingDown is the cause of a stream's end when swarmd stops.
var errShuttingDown = errors.New("swarmd is shutting down")

func (ic *interceptors) logCall(method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelDebug
	if code == codes.Internal || code == codes.Unknown || code == codes.DataLoss {
		level = slog.LevelError
	}
	ic.log.Log(context.Background(), level, "grpc call", "method", method, "code", code.String(), "duration", time.Since(start), "err", errString(err))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// limitedStream applies the method's size limit to each received message.
type limitedStream struct {
	grpc.ServerStream
	ctx    context.Context
	limit  int
	method string
}

func (s *limitedStream) Context() context.Context { return s.ctx }

func (s *limitedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		if n := proto.Size(pm); n > s.limit {
			return status.Errorf(codes.ResourceExhausted, "message of %d bytes is over the %d-byte limit of %s", n, s.limit, s.method)
		}
	}
	return nil
}
