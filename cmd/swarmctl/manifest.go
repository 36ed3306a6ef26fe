package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"sigs.k8s.io/yaml"
)

// maxManifestBytes bounds a manifest read from a file or stdin.
const maxManifestBytes = 4 << 20

// readManifest reads FILE, or standard input for "-".
func (o *options) readManifest(file string) ([]byte, error) {
	var r io.Reader
	if file == "-" {
		r = o.in
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", manifestName(file), err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", manifestName(file), maxManifestBytes>>20)
	}
	return data, nil
}

// manifestName is how messages name a manifest source.
func manifestName(file string) string {
	if file == "-" {
		return "standard input"
	}
	return file
}

// splitDocuments splits YAML text at "---" lines and drops empty documents.
// JSON text is one document.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	flush := func() {
		if len(bytes.TrimSpace(stripComments(cur.Bytes()))) > 0 {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), maxManifestBytes+1)
	for sc.Scan() {
		line := sc.Text()
		if t := strings.TrimRight(line, " \t\r"); t == "---" || strings.HasPrefix(t, "--- ") {
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return docs
}

// stripComments drops whole-line YAML comments, to tell empty documents.
func stripComments(b []byte) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(b) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// decodeStrict reads one YAML or JSON document into m. Every field that m's
// schema does not know is reported by its path, with a suggestion where a
// known field is spelled alike.
func decodeStrict(doc []byte, m proto.Message) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("want an object with metadata and spec, got %s", jsonKind(v))
	}
	if unknown := unknownFields(m.ProtoReflect().Descriptor(), v, ""); len(unknown) > 0 {
		word := "field"
		if len(unknown) > 1 {
			word = "fields"
		}
		return fmt.Errorf("unknown %s: %s", word, strings.Join(unknown, ", "))
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "proto: "))
	}
	return nil
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return "an object"
}

// unknownFields walks a decoded JSON value against a message descriptor
// and returns the paths of keys that name no field, like protojson accepts
// both lowerCamel and snake_case names. Well-known types (Struct, Timestamp,
// Any...) have their own JSON forms and are not walked.
func unknownFields(md protoreflect.MessageDescriptor, v any, path string) []string {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil // a wrong type; protojson says so
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := md.Fields()
	var out []string
	for _, k := range keys {
		val := obj[k]
		p := k
		if path != "" {
			p = path + "." + k
		}
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		if fd == nil {
			msg := fmt.Sprintf("%q", p)
			if s := suggestField(fields, k); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			out = append(out, msg)
			continue
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				continue
			}
			if m, ok := val.(map[string]any); ok {
				mk := make([]string, 0, len(m))
				for x := range m {
					mk = append(mk, x)
				}
				sort.Strings(mk)
				for _, x := range mk {
					out = append(out, unknownFields(fd.MapValue().Message(), m[x], fmt.Sprintf("%s[%s]", p, x))...)
				}
			}
		case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
		case fd.IsList():
			if list, ok := val.([]any); ok {
				for i, item := range list {
					out = append(out, unknownFields(fd.Message(), item, fmt.Sprintf("%s[%d]", p, i))...)
				}
			}
		default:
			out = append(out, unknownFields(fd.Message(), val, p)...)
		}
	}
	return out
}

// suggestField finds the known field spelled most like key: equal but for
// case and '_' or '-', else starting with key, else at most two edits away.
func suggestField(fields protoreflect.FieldDescriptors, key string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
	}
	for i := 0; i < fields.Len(); i++ {
		if name := fields.Get(i).JSONName(); norm(name) == norm(key) {
			return name
		}
	}
	for i := 0; i < fields.Len(); i++ {
		if name := fields.Get(i).JSONName(); len(key) >= 3 && strings.HasPrefix(norm(name), norm(key)) {
			return name
		}
	}
	best, bestDist := "", 3
	for i := 0; i < fields.Len(); i++ {
		name := fields.Get(i).JSONName()
		if d := editDistance(strings.ToLower(name), strings.ToLower(key)); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
