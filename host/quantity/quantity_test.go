package quantity

import "testing"

func TestParseBytes(t *testing.T) {
	for s, want := range map[string]int64{
		"1048576": 1 << 20, "64Mi": 64 << 20, "1Gi": 1 << 30, "1.5Gi": 3 << 29, "512Ki": 512 << 10,
		"500M": 500e6, "2G": 2e9, "1k": 1000, "10MiB": 10 << 20, "2Ti": 2 << 40, " 8Mi ": 8 << 20,
	} {
		if got, err := ParseBytes(s); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "abc", "-1Mi", "0", "64Xi", "1e30Pi", "NaN", "Inf"} {
		if _, err := ParseBytes(s); err == nil {
			t.Errorf("ParseBytes(%q) accepted", s)
		}
	}
}
