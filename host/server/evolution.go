package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/evolve"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/host/suite"
)

// evolutionService serves EvolutionService from the engine.
type evolutionService struct {
	v1.UnimplementedEvolutionServiceServer
	eng *evolve.Engine
	ops *store.Repository[*v1.Operation]
	// builtins is closed once the built-in plugins are installed: an
	// evolution created at swarmd's start waits for its strategy.
	builtins <-chan struct{}
}

// evolveError maps engine errors to gRPC status.
func evolveError(err error) error {
	var fe *evolve.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return invalidField(fe.Field, "%s", fe.Msg)
	case errors.Is(err, evolve.ErrState):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return storeError(err)
}

func (s *evolutionService) CreateEvolution(ctx context.Context, req *v1.CreateEvolutionRequest) (*v1.Operation, error) {
	evo := req.GetEvolution()
	if evo == nil {
		return nil, invalidField("evolution", "is required")
	}
	if err := checkName("evolution.metadata.name", evo.GetMetadata().GetName()); err != nil {
		return nil, err
	}
	if s.builtins != nil {
		select {
		case <-s.builtins:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if err := checkRequestID(req.GetRequestId()); err != nil {
		return nil, err
	}
	if evo.Spec == nil {
		return nil, invalidField("evolution.spec", "is required")
	}
	out, err := s.eng.Create(ctx, evo, req.GetRequestId())
	if err != nil {
		var fe *evolve.FieldError
		if errors.As(err, &fe) {
			return nil, invalidField("evolution."+fe.Field, "%s", fe.Msg)
		}
		return nil, evolveError(err)
	}
	op, err := s.ops.Get(ctx, evolve.OperationName(out.GetMetadata().GetName()))
	return op, storeError(err)
}

func (s *evolutionService) GetEvolution(ctx context.Context, req *v1.GetEvolutionRequest) (*v1.Evolution, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	evo, err := s.eng.Evolutions().Get(ctx, req.GetName())
	return evo, storeError(err)
}

func (s *evolutionService) ListEvolutions(ctx context.Context, req *v1.ListEvolutionsRequest) (*v1.ListEvolutionsResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := s.eng.Evolutions().List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListEvolutionsResponse{Evolutions: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (s *evolutionService) WatchEvolutions(req *v1.WatchEvolutionsRequest, stream v1.EvolutionService_WatchEvolutionsServer) error {
	return watch(stream.Context(), s.eng.Evolutions(), req.GetResourceVersion(), func(t v1.EventType, obj *v1.Evolution) error {
		return stream.Send(&v1.WatchEvolutionsResponse{Type: t, Evolution: obj})
	})
}

func (s *evolutionService) PauseEvolution(ctx context.Context, req *v1.PauseEvolutionRequest) (*v1.Evolution, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	evo, err := s.eng.Pause(ctx, req.GetName())
	return evo, evolveError(err)
}

func (s *evolutionService) ResumeEvolution(ctx context.Context, req *v1.ResumeEvolutionRequest) (*v1.Operation, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	if _, err := s.eng.Resume(ctx, req.GetName(), req.GetStrategy()); err != nil {
		return nil, evolveError(err)
	}
	op, err := s.ops.Get(ctx, evolve.OperationName(req.GetName()))
	return op, storeError(err)
}

func (s *evolutionService) CancelEvolution(ctx context.Context, req *v1.CancelEvolutionRequest) (*v1.Evolution, error) {
	if err := checkName("name", req.GetName()); err != nil {
		return nil, err
	}
	evo, err := s.eng.Cancel(ctx, req.GetName())
	return evo, evolveError(err)
}

func (s *evolutionService) ListCandidates(ctx context.Context, req *v1.ListCandidatesRequest) (*v1.ListCandidatesResponse, error) {
	if err := checkName("evolution", req.GetEvolution()); err != nil {
		return nil, err
	}
	if _, err := s.eng.Evolutions().Get(ctx, req.GetEvolution()); err != nil {
		return nil, storeError(err)
	}
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), "")
	if err != nil {
		return nil, err
	}
	page, err := s.eng.Candidates(req.GetEvolution()).List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListCandidatesResponse{Candidates: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (s *evolutionService) GetCandidate(ctx context.Context, req *v1.GetCandidateRequest) (*v1.Candidate, error) {
	if err := checkName("evolution", req.GetEvolution()); err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, invalidField("name", "is required")
	}
	c, err := s.eng.Candidates(req.GetEvolution()).Get(ctx, req.GetName())
	return c, storeError(err)
}

// suiteService lists the built-in suites. Custom suites are not stored
// yet: CreateSuite answers UNIMPLEMENTED.
type suiteService struct {
	v1.UnimplementedSuiteServiceServer
	catalog suite.Catalog
}

// builtinSuites are the suites listed by name (bbob takes any function,
// dimension and instance: bbob-f<F>-d<D>[-i<I>]).
var builtinSuites = []string{"tsplib", "tsplib-small", "bbob-f1-d10", "bbob-f8-d10", "bbob-f10-d10", "bbob-f15-d10"}

func (s *suiteService) describe(name string) (*v1.Suite, error) {
	st, err := s.catalog.Lookup(name, suite.Options{})
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	sp := &v1.Suite{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.SuiteSpec{Builtin: name, Aggregation: "mean"}, Status: &v1.SuiteStatus{TaskCount: int32(len(st.Tasks()))}}
	for _, t := range st.Tasks() {
		sp.Spec.Tasks = append(sp.Spec.Tasks, &v1.Task{Name: t.Name})
	}
	sp.Spec.Subsets = map[string]*v1.TaskList{}
	for k, v := range st.Subsets() {
		sp.Spec.Subsets[k] = &v1.TaskList{Tasks: v}
	}
	sp.Spec.Runner = "in-process"
	if len(name) >= 6 && name[:6] == "tsplib" {
		sp.Spec.Runner, sp.Spec.Scorer = "process", "tsp-gap"
	}
	return sp, nil
}

func (s *suiteService) GetSuite(_ context.Context, req *v1.GetSuiteRequest) (*v1.Suite, error) {
	if req.GetName() == "" {
		return nil, invalidField("name", "is required")
	}
	return s.describe(req.GetName())
}

func (s *suiteService) ListSuites(context.Context, *v1.ListSuitesRequest) (*v1.ListSuitesResponse, error) {
	out := &v1.ListSuitesResponse{}
	for _, n := range builtinSuites {
		sp, err := s.describe(n)
		if err != nil {
			// Listed, but not usable here (tsplib without a tspsolver).
			sp = &v1.Suite{Metadata: &v1.ObjectMeta{Name: n}, Spec: &v1.SuiteSpec{Builtin: n}, Status: &v1.SuiteStatus{
				Conditions: []*v1.Condition{{Type: "Ready", Status: "False", Reason: "Unavailable", Message: status.Convert(err).Message()}}}}
		} else {
			sp.Status.Conditions = []*v1.Condition{{Type: "Ready", Status: "True"}}
		}
		out.Suites = append(out.Suites, sp)
	}
	return out, nil
}
