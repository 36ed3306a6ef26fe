package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"
)

// messageJSON renders m as compact protojson (lowerCamel field names).
func messageJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	// protojson varies its spacing on purpose; compact it so output is stable
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// listJSON renders items as {"items": [...]}.
func listJSON[T proto.Message](items []T) (json.RawMessage, error) {
	raws := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		r, err := messageJSON(it)
		if err != nil {
			return nil, err
		}
		raws = append(raws, r)
	}
	return json.Marshal(map[string][]json.RawMessage{"items": raws})
}

// writeStructured prints JSON in the json or yaml format: indented JSON, or
// YAML converted from it.
func writeStructured(w io.Writer, format string, raw json.RawMessage) error {
	switch format {
	case outputYAML:
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	default:
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	}
}

// printMessage prints one message as json or yaml.
func printMessage(w io.Writer, format string, m proto.Message) error {
	raw, err := messageJSON(m)
	if err != nil {
		return err
	}
	return writeStructured(w, format, raw)
}

// printList prints messages as an {"items": [...]} object in json or yaml.
func printList[T proto.Message](w io.Writer, format string, items []T) error {
	raw, err := listJSON(items)
	if err != nil {
		return err
	}
	return writeStructured(w, format, raw)
}

// newTable returns a tabwriter laid out like kubectl's tables.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
}

// writeRow writes cells as one tab-separated line.
func writeRow(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// streamTable prints rows as they arrive, aligned on the widths of the
// header and the first batch, like tabwriter with padding 3 but without
// waiting for the whole table.
type streamTable struct {
	w      io.Writer
	header []string
	// minWidths are widths to reserve for columns whose later values are
	// known to be wider than the first batch's (EVENT: MODIFIED).
	minWidths []int
	pending   [][]string
	widths    []int
	started   bool
}

// add queues a row until flush, or prints it at once after the first flush.
func (t *streamTable) add(cells ...string) {
	if !t.started {
		t.pending = append(t.pending, cells)
		return
	}
	t.print(cells)
}

// flush prints the header and queued rows, fixing the column widths.
func (t *streamTable) flush() {
	if t.started {
		return
	}
	t.started = true
	rows := append([][]string{t.header}, t.pending...)
	t.widths = make([]int, len(t.header))
	copy(t.widths, t.minWidths)
	for _, r := range rows {
		for i, c := range r {
			if i < len(t.widths) && utf8.RuneCountInString(c) > t.widths[i] {
				t.widths[i] = utf8.RuneCountInString(c)
			}
		}
	}
	for _, r := range rows {
		t.print(r)
	}
	t.pending = nil
}

// print writes one padded line.
func (t *streamTable) print(cells []string) {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i == len(cells)-1 {
			break
		}
		w := 0
		if i < len(t.widths) {
			w = t.widths[i]
		}
		pad := w - utf8.RuneCountInString(c)
		if pad < 0 {
			pad = 0
		}
		b.WriteString(strings.Repeat(" ", pad+3))
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(t.w, b.String())
}

// humanBytes writes a byte count with binary units: 512B, 1.5KiB, 23.4GiB.
func humanBytes(n int64) string {
	if n < 0 {
		return "-" + humanBytes(-n)
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + string("KMGTPE"[exp]) + "iB"
}

// humanDuration writes an age the way kubectl does: 45s, 5m, 2h, 3d, 2y.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	default:
		return fmt.Sprintf("%dy", int(d.Hours()/24/365))
	}
}

// age is the time since ts, or <unknown> when ts is unset.
func age(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil || !ts.IsValid() || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return "<unknown>"
	}
	return humanDuration(now.Sub(ts.AsTime()))
}

// timeAndAge writes "2025-01-02T03:04:05Z (5m ago)", or <none>.
func timeAndAge(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return "<none>"
	}
	return fmt.Sprintf("%s (%s ago)", ts.AsTime().UTC().Format(time.RFC3339), humanDuration(now.Sub(ts.AsTime())))
}

// sortedPairs writes a map as sorted "k=v" strings.
func sortedPairs(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// orNone is s, or <none> when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// yesNo writes a bool for tables.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// describer writes kubectl-describe style "Key:  value" blocks.
type describer struct {
	w  io.Writer
	tw *tabwriter.Writer
}

// newDescriber writes to w; call flush at the end.
func newDescriber(w io.Writer) *describer {
	return &describer{w: w, tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

// field writes "indent key:\tvalue".
func (d *describer) field(indent int, key, value string) {
	fmt.Fprintf(d.tw, "%s%s:\t%s\n", strings.Repeat("  ", indent), key, value)
}

// list writes key with one value per line (kubectl's Labels: style).
func (d *describer) list(indent int, key string, values []string) {
	if len(values) == 0 {
		d.field(indent, key, "<none>")
		return
	}
	for i, v := range values {
		k := key + ":"
		if i > 0 {
			k = ""
		}
		fmt.Fprintf(d.tw, "%s%s\t%s\n", strings.Repeat("  ", indent), k, v)
	}
}

// section writes a heading for a nested block or table.
func (d *describer) section(indent int, title string) {
	fmt.Fprintf(d.tw, "%s%s:\n", strings.Repeat("  ", indent), title)
}

// table writes an indented table aligned on its own, or <none> when it has
// no rows.
func (d *describer) table(indent int, header []string, rows [][]string) {
	pre := strings.Repeat("  ", indent)
	if len(rows) == 0 {
		fmt.Fprintf(d.tw, "%s<none>\n", pre)
		return
	}
	_ = d.tw.Flush()
	tw := newTable(d.w)
	fmt.Fprintf(tw, "%s%s\n", pre, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintf(tw, "%s%s\n", pre, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// flush ends the output.
func (d *describer) flush() error { return d.tw.Flush() }
