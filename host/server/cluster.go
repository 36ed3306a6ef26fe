package server

import (
	"context"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/stratoswarm/stratoswarm/api/stratoswarm/v1alpha1"
	"github.com/stratoswarm/stratoswarm/host/buildinfo"
	"github.com/stratoswarm/stratoswarm/host/store"
	"github.com/stratoswarm/stratoswarm/runtime/node"
)

// Kinds are the store kinds of the resources the server keeps.
const (
	kindNode      = "nodes"
	kindAgent     = "agents"
	kindOperation = "operations"
)

// heartbeatEvery is how often the local node's heartbeat is written;
// a node whose heartbeat is three times older is NotReady.
const heartbeatEvery = 30 * time.Second

// clusterService serves ClusterService from the store.
type clusterService struct {
	v1.UnimplementedClusterServiceServer
	store *store.Store
	nodes *store.Repository[*v1.Node]
	local string
	now   func() time.Time
}

func (c *clusterService) GetVersion(context.Context, *v1.GetVersionRequest) (*v1.Version, error) {
	return buildinfo.Get(), nil
}

func (c *clusterService) GetClusterStatus(ctx context.Context, _ *v1.GetClusterStatusRequest) (*v1.ClusterStatus, error) {
	lsm, vlog := c.store.Size()
	out := &v1.ClusterStatus{
		Version: buildinfo.Get(),
		Store: &v1.StoreStatus{
			Path:              c.store.Dir(),
			SchemaVersion:     int32(c.store.SchemaVersion()),
			Revision:          strconv.FormatInt(c.store.Revision(), 10),
			CompactedRevision: strconv.FormatInt(c.store.CompactedRevision(), 10),
			LsmBytes:          lsm,
			VlogBytes:         vlog,
		},
		ResourceCounts: map[string]int64{},
	}
	for _, kind := range []string{kindNode, kindAgent, kindOperation} {
		n, err := c.store.Count(kind)
		if err != nil {
			return nil, storeError(err)
		}
		out.ResourceCounts[kind] = n
	}
	for n, err := range c.nodes.All(ctx) {
		if err != nil {
			return nil, storeError(err)
		}
		out.Nodes = append(out.Nodes, &v1.NodeSummary{
			Name:          n.GetMetadata().GetName(),
			Ready:         nodeReady(n, c.now()),
			Unschedulable: n.GetSpec().GetUnschedulable(),
			Cpus:          n.GetStatus().GetCpus(),
			MemoryBytes:   n.GetStatus().GetMemoryBytes(),
			HeartbeatTime: n.GetStatus().GetHeartbeatTime(),
		})
		if n.GetMetadata().GetName() == c.local {
			out.Features = n.GetStatus().GetFeatures()
		}
	}
	return out, nil
}

// nodeReady: a heartbeat within three periods.
func nodeReady(n *v1.Node, now time.Time) bool {
	hb := n.GetStatus().GetHeartbeatTime()
	return hb != nil && now.Sub(hb.AsTime()) < 3*heartbeatEvery
}

// nodeService serves NodeService from the store.
type nodeService struct {
	v1.UnimplementedNodeServiceServer
	nodes *store.Repository[*v1.Node]
}

func (n *nodeService) GetNode(ctx context.Context, req *v1.GetNodeRequest) (*v1.Node, error) {
	if err := checkNodeName("name", req.GetName()); err != nil {
		return nil, err
	}
	node, err := n.nodes.Get(ctx, req.GetName())
	return node, storeError(err)
}

func (n *nodeService) ListNodes(ctx context.Context, req *v1.ListNodesRequest) (*v1.ListNodesResponse, error) {
	opts, err := listOptions(req.GetPageSize(), req.GetPageToken(), req.GetLabelSelector())
	if err != nil {
		return nil, err
	}
	page, err := n.nodes.List(ctx, opts)
	if err != nil {
		return nil, storeError(err)
	}
	return &v1.ListNodesResponse{Nodes: page.Items, NextPageToken: page.NextPageToken, ResourceVersion: page.ResourceVersion}, nil
}

func (n *nodeService) UpdateNode(ctx context.Context, req *v1.UpdateNodeRequest) (*v1.Node, error) {
	node := req.GetNode()
	if node == nil {
		return nil, invalidField("node", "is required")
	}
	if err := checkNodeName("node.metadata.name", node.GetMetadata().GetName()); err != nil {
		return nil, err
	}
	if node.GetMetadata().GetResourceVersion() == "" {
		return nil, invalidField("node.metadata.resource_version", "is required: get the node and send its version back")
	}
	if err := checkLabels("node.metadata.labels", node.GetMetadata().GetLabels()); err != nil {
		return nil, err
	}
	out, err := n.nodes.Update(ctx, node)
	return out, storeError(err)
}

func (n *nodeService) WatchNodes(req *v1.WatchNodesRequest, stream v1.NodeService_WatchNodesServer) error {
	return watch(stream.Context(), n.nodes, req.GetResourceVersion(), func(t v1.EventType, obj *v1.Node) error {
		return stream.Send(&v1.WatchNodesResponse{Type: t, Node: obj})
	})
}

// registerNode creates or refreshes this node's record from a host probe.
func registerNode(ctx context.Context, nodes *store.Repository[*v1.Node], name string, facts node.Facts, start, now time.Time) error {
	status := &v1.NodeStatus{
		Hostname:      facts.Hostname,
		Os:            facts.OS,
		Arch:          facts.Arch,
		KernelVersion: facts.KernelVersion,
		Cpus:          int32(facts.CPUs),
		MemoryBytes:   facts.MemoryBytes,
		CgroupMode:    facts.CgroupMode,
		SwarmdVersion: buildinfo.Version,
		StartTime:     timestamppb.New(start),
		HeartbeatTime: timestamppb.New(now),
		Allocatable:   &v1.ResourceList{CpuMillis: int64(facts.CPUs) * 1000, MemoryBytes: facts.MemoryBytes},
		Conditions: []*v1.Condition{{
			Type: "Ready", Status: "True", Reason: "SwarmdRunning",
			Message: "swarmd is running and heartbeating", LastTransitionTime: timestamppb.New(start),
		}},
	}
	for _, f := range facts.Features {
		status.Features = append(status.Features, &v1.Feature{Name: f.Name, Available: f.Available, Detail: f.Detail})
	}
	obj := &v1.Node{Metadata: &v1.ObjectMeta{Name: name}, Spec: &v1.NodeSpec{}}
	if _, _, err := nodes.Create(ctx, obj, ""); err != nil {
		// An existing node keeps its spec (cordon) and labels.
		if _, err := nodes.Get(ctx, name); err != nil {
			return err
		}
	}
	_, err := nodes.UpdateStatus(ctx, &v1.Node{Metadata: &v1.ObjectMeta{Name: name}, Status: status})
	return err
}

// heartbeat refreshes the local node's heartbeat time.
func heartbeat(ctx context.Context, nodes *store.Repository[*v1.Node], name string, now time.Time) error {
	cur, err := nodes.Get(ctx, name)
	if err != nil {
		return err
	}
	st := proto.Clone(cur.GetStatus()).(*v1.NodeStatus)
	if st == nil {
		st = &v1.NodeStatus{}
	}
	st.HeartbeatTime = timestamppb.New(now)
	_, err = nodes.UpdateStatus(ctx, &v1.Node{Metadata: &v1.ObjectMeta{Name: name, ResourceVersion: cur.GetMetadata().GetResourceVersion()}, Status: st})
	return err
}
