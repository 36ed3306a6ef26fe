package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file holds the lenient decoding that lets the SDK read what protojson
// writes as well as what ABI.md shows: protojson encodes 64-bit integers as
// JSON strings ("seed": "42"), may encode doubles as strings ("NaN",
// "Infinity"), and accepts the proto field names (min_length) beside the
// lowerCamel ones (minLength). Encoding always produces the ABI.md form: plain
// numbers and lowerCamel names.

// objectFields decodes a JSON object into its fields keyed by a normalised
// name: lower case without underscores, so "minLength", "min_length" and
// "minlength" are the same key.
func objectFields(data []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw == nil && !bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		raw = map[string]json.RawMessage{}
	}
	out := make(map[string]json.RawMessage, len(raw))
	for k, v := range raw {
		out[normKey(k)] = v
	}
	return out, nil
}

func normKey(k string) string {
	return strings.ToLower(strings.ReplaceAll(k, "_", ""))
}

// isNull reports whether a raw field is absent or JSON null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// unquoteNumber returns the text of a JSON number, or of a JSON string that
// holds one (protojson's form for 64-bit integers).
func unquoteNumber(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	}
	return string(v), nil
}

// decodeInt64 reads an integer written as a JSON number or a string. A number
// with a fractional part is an error; an exponent form of an integer (1e3) is
// accepted.
func decodeInt64(v json.RawMessage) (int64, error) {
	s, err := unquoteNumber(v)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<63 {
		return 0, fmt.Errorf("%s is not an integer", s)
	}
	return int64(f), nil
}

// decodeUint64 reads an unsigned integer written as a JSON number or a string.
func decodeUint64(v json.RawMessage) (uint64, error) {
	s, err := unquoteNumber(v)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < 0 || f >= 1<<64 {
		return 0, fmt.Errorf("%s is not an unsigned integer", s)
	}
	return uint64(f), nil
}

// decodeFloat64 reads a number written as a JSON number or a string
// ("1.5", "NaN", "Infinity", "-Infinity").
func decodeFloat64(v json.RawMessage) (float64, error) {
	s, err := unquoteNumber(v)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", s)
	}
	return f, nil
}

// fieldDecoder pulls typed fields out of an object decoded by objectFields and
// remembers the first error, naming the field.
type fieldDecoder struct {
	fields map[string]json.RawMessage
	err    error
}

func newFieldDecoder(data []byte) (*fieldDecoder, error) {
	f, err := objectFields(data)
	if err != nil {
		return nil, err
	}
	return &fieldDecoder{fields: f}, nil
}

func (d *fieldDecoder) fail(name string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", name, err)
	}
}

func (d *fieldDecoder) int64(name string, dst *int64) {
	v := d.fields[normKey(name)]
	if isNull(v) {
		return
	}
	n, err := decodeInt64(v)
	if err != nil {
		d.fail(name, err)
		return
	}
	*dst = n
}

func (d *fieldDecoder) int(name string, dst *int) {
	n := int64(*dst)
	d.int64(name, &n)
	if n > math.MaxInt32 || n < math.MinInt32 {
		d.fail(name, fmt.Errorf("%d is out of range", n))
		return
	}
	*dst = int(n)
}

func (d *fieldDecoder) uint64(name string, dst *uint64) {
	v := d.fields[normKey(name)]
	if isNull(v) {
		return
	}
	n, err := decodeUint64(v)
	if err != nil {
		d.fail(name, err)
		return
	}
	*dst = n
}

func (d *fieldDecoder) float64(name string, dst *float64) {
	v := d.fields[normKey(name)]
	if isNull(v) {
		return
	}
	f, err := decodeFloat64(v)
	if err != nil {
		d.fail(name, err)
		return
	}
	*dst = f
}

// plain decodes a field with encoding/json.
func (d *fieldDecoder) plain(name string, dst any) {
	v := d.fields[normKey(name)]
	if isNull(v) {
		return
	}
	if err := json.Unmarshal(v, dst); err != nil {
		d.fail(name, err)
	}
}

// raw copies a field's JSON text.
func (d *fieldDecoder) raw(name string, dst *json.RawMessage) {
	v := d.fields[normKey(name)]
	if isNull(v) {
		return
	}
	*dst = append(json.RawMessage(nil), bytes.TrimSpace(v)...)
}
