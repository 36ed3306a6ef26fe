package evolve

import (
	"slices"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func marshalProto(m proto.Message) ([]byte, error) { return protojson.Marshal(m) }

func sortInt32(xs []int32) []int32 {
	slices.Sort(xs)
	return xs
}
