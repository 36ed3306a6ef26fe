package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// general is the general path the fast one must agree with.
func general[T any](request []byte) (T, error) {
	var req T
	err := decodeRequest(request, &req, false)
	return req, err
}

// scoreRequestDiff says how two decoded requests differ, or returns "". Times
// are compared by instant, zone name and offset (a fixed zone is a new
// *time.Location on every parse), weights bit for bit (NaN included), and
// nil apart from empty for the evidence and the config.
func scoreRequestDiff(a, b ScoreRequest) string {
	sameTime := func(x, y time.Time) bool {
		xn, xo := x.Zone()
		yn, yo := y.Zone()
		if x.Location() == time.UTC && y.Location() == time.UTC {
			return x == y // the same representation, not only the same instant
		}
		return x.Equal(y) && xn == yn && xo == yo && x.Location().String() == y.Location().String()
	}
	switch {
	case a.Version != b.Version:
		return fmt.Sprintf("version %d vs %d", a.Version, b.Version)
	case !sameTime(a.Now, b.Now):
		return fmt.Sprintf("now %v vs %v", a.Now, b.Now)
	case (a.Evidence == nil) != (b.Evidence == nil) || len(a.Evidence) != len(b.Evidence):
		return fmt.Sprintf("evidence %d records (nil %t) vs %d (nil %t)", len(a.Evidence), a.Evidence == nil, len(b.Evidence), b.Evidence == nil)
	case (a.Config == nil) != (b.Config == nil) || !bytes.Equal(a.Config, b.Config):
		return fmt.Sprintf("config %q vs %q", a.Config, b.Config)
	}
	for i, x := range a.Evidence {
		y := b.Evidence[i]
		if !sameTime(x.Time, y.Time) || x.Kind != y.Kind || x.Positive != y.Positive ||
			math.Float64bits(x.Weight) != math.Float64bits(y.Weight) || x.Detail != y.Detail {
			return fmt.Sprintf("evidence[%d] %+v vs %+v", i, x, y)
		}
	}
	return ""
}

// adjustRequestDiff is scoreRequestDiff for AdjustRequest.
func adjustRequestDiff(a, b AdjustRequest) string {
	if a.Version != b.Version || a.Role != b.Role || a.Generation != b.Generation ||
		math.Float64bits(a.Trust) != math.Float64bits(b.Trust) ||
		(a.Config == nil) != (b.Config == nil) || !bytes.Equal(a.Config, b.Config) {
		return fmt.Sprintf("%+v vs %+v", a, b)
	}
	return ""
}

// checkFast compares the fast path with the general one on request: when
// the fast path accepts, the general path must accept with the same request
// (diff says how two differ); decodeFast must always give the general path's
// result or error. It returns whether the fast path accepted.
func checkFast[T any](t *testing.T, request []byte, fast func([]byte) (T, bool), diff func(a, b T) string) bool {
	t.Helper()
	want, wantErr := general[T](request)
	fastReq, ok := fast(request)
	if ok {
		if wantErr != nil {
			t.Fatalf("%q: the fast path accepts what the general path refuses (%v)", request, wantErr)
		}
		if d := diff(fastReq, want); d != "" {
			t.Fatalf("%q: fast and general paths differ: %s", request, d)
		}
	}
	got, err := decodeFast(request, fast)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%q: error %v, the general path's %v", request, err, wantErr)
	case err != nil:
		if err.Error() != wantErr.Error() {
			t.Fatalf("%q: error %q, the general path's %q", request, err, wantErr)
		}
	default:
		if d := diff(got, want); d != "" {
			t.Fatalf("%q: decodeFast and the general path differ: %s", request, d)
		}
	}
	return ok
}

func checkTrustDecode(t *testing.T, request []byte) bool {
	t.Helper()
	return checkFast(t, request, fastScoreRequest, scoreRequestDiff)
}

func checkAdjustDecode(t *testing.T, request []byte) bool {
	t.Helper()
	return checkFast(t, request, fastAdjustRequest, adjustRequestDiff)
}

const fullScoreRequest = `{"version":1,"now":"2026-11-25T12:00:00Z","config":{"subject":"agent/b@1.0.0","halfLifeSeconds":3600,"preTrusted":["agent/p@1.0.0"],"deep":[{"a":[1,-2.5e-3,true,false,null,"x"]}]},
 "evidence":[{"time":"2026-11-25T11:00:00Z","kind":"task","positive":true,"weight":1,"detail":"","source":"bench"},
  {"time":"2026-11-20T08:30:00.123456789+05:30","kind":"call","positive":false,"weight":3,"detail":"{\"from\":\"agent/p@1.0.0\",\"to\":\"agent/b@1.0.0\"}"}],
 "subject":{"kind":"agent","name":"b"}}`

// corpusEntry is a request the fast path must read (fast) or leave to the
// general path, valid or not.
type corpusEntry struct {
	name    string
	request string
	fast    bool
}

var trustCorpus = []corpusEntry{
	// Read by the fast path.
	{"full", fullScoreRequest, true},
	{"minimal", `{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[]}`, true},
	{"whitespace", " \t\r\n{ \"version\" : 1 ,\n\"now\":\t\"2026-11-25T12:00:00Z\" , \"evidence\" : [ { \"kind\" : \"task\" , \"weight\" : 2 } , { } ] } \n", true},
	{"version only", `{"version":1}`, true},
	{"nulls", `{"version":1,"now":null,"evidence":null,"config":null}`, true},
	{"null fields", `{"version":1,"evidence":[{"time":null,"kind":null,"positive":null,"weight":null,"detail":null}]}`, true},
	{"missing fields", `{"version":1,"evidence":[{},{"positive":true},{"weight":0.5}]}`, true},
	{"proto and cased names", `{"VERSION":1,"N_o_w":"2026-11-25T12:00:00Z","Evidence":[{"TIME":"2026-11-25T11:00:00Z","Kind":"task","POSITIVE":true,"we_ight":2,"Detail":"d"}],"CONFIG":{}}`, true},
	{"unicode", `{"version":1,"evidence":[{"kind":"tâche","detail":"détail ✓ 😀 日本語"}]}`, true},
	{"escapes", `{"version":1,"evidence":[{"kind":"\u0074ask","detail":"q\"b\\s\/b\bf\fn\nr\rt\t\u00e9\ud83d\ude00\u003c\u2028\u0000"}]}`, true},
	{"lone surrogates", `{"version":1,"evidence":[{"detail":"\ud800x\udc00\ud800\u0041\ud83d"}]}`, true},
	{"invalid utf-8", "{\"version\":1,\"evidence\":[{\"kind\":\"\xff\xfe\",\"detail\":\"a\xc3\x28b\xed\xa0\x80\\n\xe2\x82\"}]}", true},
	{"numbers", `{"version":1,"evidence":[{"weight":0},{"weight":-0},{"weight":1.5},{"weight":-2},{"weight":1e3},{"weight":1E-3},{"weight":2.5e+2},{"weight":123456789012345678901234567890},{"weight":1e-400},{"weight":0.1e1}]}`, true},
	{"numeric strings", `{"version":1,"evidence":[{"weight":"1.5"},{"weight":"NaN"},{"weight":"-Infinity"},{"weight":" 2 "},{"weight":"1e2"}]}`, true},
	{"time zones", `{"version":1,"now":"2026-11-25T12:00:00-07:00","evidence":[{"time":"2026-11-25T12:00:00.5+14:00"},{"time":"2026-11-25T12:00:00.000000001Z"}]}`, true},
	{"times", `{"version":1,"now":"2000-02-29T23:59:59.999999999Z","evidence":[{"time":"0000-01-01T00:00:00Z"},{"time":"0000-02-29T12:00:00.5Z"},{"time":"9999-12-31T23:59:59Z"},{"time":"1970-01-01T00:00:00.000000001Z"},{"time":"1969-12-31T23:59:59.1234567890Z"},{"time":"2026-11-25T12:00:00,5Z"}]}`, true},
	{"config forms", `{"version":1,"config":"s"}`, true},
	{"config number", `{"version":1,"config":-1.5e7}`, true},
	{"config nested", `{"version":1,"config":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, true},
	{"unknown fields", `{"version":1,"extra":{"a":[1,{"b":null}]},"evidence":[{"source":"x","seq":"7","kind":"task","more":[true,false]}],"tail":"\u00e9"}`, true},
	{"large", `{"version":1,"now":"2026-11-25T12:00:00Z","evidence":[` + strings.Repeat(`{"time":"2026-11-25T11:00:00Z","kind":"task","positive":true,"weight":0.75,"detail":"x"},`, 999) + `{"weight":1}]}`, true},

	// Valid, but left to the general path.
	{"version as string", `{"version":"1"}`, false},
	{"version as float", `{"version":1.0}`, false},
	{"version exponent", `{"version":1e0}`, false},
	{"escaped key", `{"version":1,"\u006eow":"2026-11-25T12:00:00Z"}`, false},
	{"kelvin sign key", "{\"version\":1,\"evidence\":[{\"\u212aind\":\"task\"}]}", false},
	{"duplicate field", `{"version":1,"now":"2026-11-25T12:00:00Z","now":"2026-11-25T13:00:00Z"}`, false},
	{"duplicate normalised field", `{"version":1,"evidence":[{"weight":1,"WEIGHT":1}]}`, false},
	{"null record", `{"version":1,"evidence":[null]}`, false},
	{"unicode space around", "\v{\"version\":1}\u00a0", false},
	{"deep config", `{"version":1,"config":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`, false},

	// Invalid: the general path's error.
	{"empty", ``, false},
	{"not an object", `[]`, false},
	{"null", `null`, false},
	{"no version", `{"now":"2026-11-25T12:00:00Z"}`, false},
	{"null version", `{"version":null}`, false},
	{"version 2", `{"version":2}`, false},
	{"version bool", `{"version":true}`, false},
	{"now number", `{"version":1,"now":5}`, false},
	{"now yesterday", `{"version":1,"now":"yesterday"}`, false},
	{"now not a leap day", `{"version":1,"now":"2026-02-29T00:00:00Z"}`, false},
	{"now 1900 not a leap day", `{"version":1,"now":"1900-02-29T00:00:00Z"}`, false},
	{"now hour 24", `{"version":1,"now":"2026-11-25T24:00:00Z"}`, false},
	{"now leap second", `{"version":1,"now":"2026-12-31T23:59:60Z"}`, false},
	{"now day 31", `{"version":1,"now":"2026-11-31T00:00:00Z"}`, false},
	{"now lower case", `{"version":1,"now":"2026-11-25t12:00:00z"}`, false},
	{"now empty fraction", `{"version":1,"now":"2026-11-25T12:00:00.Z"}`, false},
	{"now bad month", `{"version":1,"now":"2026-13-01T00:00:00Z"}`, false},
	{"now space", `{"version":1,"now":"2026-11-25 12:00:00Z"}`, false},
	{"now escaped", `{"version":1,"now":"2026-11-25T12:00:00\u005a"}`, false},
	{"evidence object", `{"version":1,"evidence":{}}`, false},
	{"evidence string", `{"version":1,"evidence":"x"}`, false},
	{"record number", `{"version":1,"evidence":[5]}`, false},
	{"kind number", `{"version":1,"evidence":[{"kind":5}]}`, false},
	{"positive string", `{"version":1,"evidence":[{"positive":"yes"}]}`, false},
	{"weight bool", `{"version":1,"evidence":[{"weight":true}]}`, false},
	{"weight word", `{"version":1,"evidence":[{"weight":"heavy"}]}`, false},
	{"weight overflow", `{"version":1,"evidence":[{"weight":1e400}]}`, false},
	{"weight overflow string", `{"version":1,"evidence":[{"weight":"-1e400"}]}`, false},
	{"weight NaN literal", `{"version":1,"evidence":[{"weight":NaN}]}`, false},
	{"detail array", `{"version":1,"evidence":[{"detail":[]}]}`, false},
	{"time number", `{"version":1,"evidence":[{"time":5}]}`, false},
	{"bad numbers", `{"version":1,"evidence":[{"weight":01}]}`, false},
	{"bad fraction", `{"version":1,"evidence":[{"weight":1.}]}`, false},
	{"bad lead", `{"version":1,"evidence":[{"weight":.5}]}`, false},
	{"bad exponent", `{"version":1,"evidence":[{"weight":1e}]}`, false},
	{"bad exponent in config", `{"version":1,"config":[1e+]}`, false},
	{"bad fraction in config", `{"version":1,"config":{"a":2.e3}}`, false},
	{"plus", `{"version":1,"evidence":[{"weight":+1}]}`, false},
	{"hex", `{"version":1,"evidence":[{"weight":0x10}]}`, false},
	{"minus", `{"version":1,"config":-}`, false},
	{"bad escape", `{"version":1,"evidence":[{"detail":"\x"}]}`, false},
	{"short unicode escape", `{"version":1,"evidence":[{"detail":"\u12"}]}`, false},
	{"control character", "{\"version\":1,\"evidence\":[{\"detail\":\"a\tb\"}]}", false},
	{"unit separator", "{\"version\":1,\"evidence\":[{\"detail\":\"abcdefgh\x1fijklmnop\"}]}", false},
	{"digits then non-ASCII", "{\"version\":1,\"config\":[12345678\xdd,\"\xdd00000000\"]}", false},
	{"non-ASCII value", "{\"version\":1,\"x\":\xdd00000000}", false},
	{"digits then colon", `{"version":1,"config":[1:2,12345678]}`, false},
	{"digits then slash", `{"version":1,"config":[1/2,12345678]}`, false},
	{"trailing comma", `{"version":1,}`, false},
	{"trailing array comma", `{"version":1,"evidence":[{},]}`, false},
	{"trailing value", `{"version":1} x`, false},
	{"two objects", `{"version":1}{}`, false},
	{"unterminated", `{"version":1,"evidence":[{"detail":"abc}]}`, false},
	{"bad literal", `{"version":1,"config":tru}`, false},
	{"nul byte", "{\"version\":1}\x00", false},
}

const fullAdjustRequest = `{"version":1,"role":"solver","generation":3,"trust":0.8,"config":{"subject":"agent/a@1.0.0","bias":[0.1,{"x":null}]},"extra":true}`

var adjustCorpus = []corpusEntry{
	// Read by the fast path.
	{"full", fullAdjustRequest, true},
	{"abi example", `{"version": 1, "role": "solver", "generation": 3, "trust": 0.8}`, true},
	{"version only", `{"version":1}`, true},
	{"nulls", `{"version":1,"role":null,"generation":null,"trust":null,"config":null}`, true},
	{"cased names", `{"Version":1,"ROLE":"r","Gene_ration":-7,"TRUST":1e-3,"Config":[]}`, true},
	{"role escapes and unicode", `{"version":1,"role":"r\u00f4le \"x\" ✓ \ud800"}`, true},
	{"int32 limits", `{"version":1,"generation":-2147483648}`, true},
	{"int32 max", `{"version":1,"generation":2147483647}`, true},
	{"trust forms", `{"version":1,"trust":"NaN"}`, true},
	{"trust exponent", `{"version":1,"trust":-0.5E+1}`, true},

	// Valid, but left to the general path.
	{"generation as string", `{"version":1,"generation":"3"}`, false},
	{"generation as float", `{"version":1,"generation":3.0}`, false},
	{"generation exponent", `{"version":1,"generation":3e2}`, false},
	{"duplicate", `{"version":1,"role":"a","role":"b"}`, false},
	{"escaped key", `{"version":1,"\u0072ole":"a"}`, false},

	// Invalid: the general path's error.
	{"no version", `{"role":"solver"}`, false},
	{"version 2", `{"version":2}`, false},
	{"generation too big", `{"version":1,"generation":2147483648}`, false},
	{"generation too small", `{"version":1,"generation":-2147483649}`, false},
	{"generation fraction", `{"version":1,"generation":1.5}`, false},
	{"generation huge", `{"version":1,"generation":1e30}`, false},
	{"generation bool", `{"version":1,"generation":true}`, false},
	{"role number", `{"version":1,"role":5}`, false},
	{"trust word", `{"version":1,"trust":"high"}`, false},
	{"trust overflow", `{"version":1,"trust":1e999}`, false},
	{"trailing", `{"version":1} 1`, false},
	{"truncated", `{"version":1,"role":"sol`, false},
}

// TestFastPathMatchesGeneral: on every request of the corpora, and on every
// prefix of a full one (truncated JSON), the fast path reads what the general
// path reads or leaves the request to it, and decodeFast gives the general
// path's result or its error message.
func TestFastPathMatchesGeneral(t *testing.T) {
	for _, kind := range []struct {
		name   string
		corpus []corpusEntry
		full   string
		check  func(*testing.T, []byte) bool
	}{
		{"trust", trustCorpus, fullScoreRequest, checkTrustDecode},
		{"personality", adjustCorpus, fullAdjustRequest, checkAdjustDecode},
	} {
		t.Run(kind.name, func(t *testing.T) {
			for _, c := range kind.corpus {
				t.Run(c.name, func(t *testing.T) {
					if ok := kind.check(t, []byte(c.request)); ok != c.fast {
						t.Fatalf("fast path accepted = %t, want %t", ok, c.fast)
					}
				})
			}
			for n := range len(kind.full) {
				if kind.check(t, []byte(kind.full[:n])) {
					t.Fatalf("the fast path accepts the truncated %q", kind.full[:n])
				}
			}
		})
	}
}

// TestParseUTCMatchesTime: parseUTC reads every date of years around the
// edges of the calendar's rules, and the days that do not exist, as
// time.Time.UnmarshalJSON does.
func TestParseUTCMatchesTime(t *testing.T) {
	clocks := []string{"00:00:00", "23:59:59", "12:34:56.7", "01:02:03.000000001", "09:08:07.123456789", "24:00:00", "12:60:00", "12:00:60", "1a:00:00"}
	for _, year := range []int{0, 1, 3, 4, 99, 100, 399, 400, 1600, 1700, 1900, 1969, 1970, 1999, 2000, 2024, 2026, 2100, 2400, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				for _, clock := range clocks {
					text := fmt.Sprintf("%04d-%02d-%02dT%sZ", year, month, day, clock)
					got, ok := parseUTC([]byte(text))
					var want time.Time
					err := want.UnmarshalJSON([]byte(`"` + text + `"`))
					if ok != (err == nil) || ok && got != want {
						t.Fatalf("%s: parseUTC %v %t, time %v %v", text, got, ok, want, err)
					}
				}
			}
		}
	}
}

// TestFastErrorsUnchanged pins the messages of invalid trust and personality
// requests.
func TestFastErrorsUnchanged(t *testing.T) {
	for req, want := range map[string]string{
		`{"now":"2026-11-25T12:00:00Z"}`:  "invalid: the request has no version (this SDK speaks version 1)",
		`{"version":2}`:                   "invalid: request version 2 is not supported (this SDK speaks version 1)",
		`[]`:                              "invalid: the request is not a JSON object",
		`{"version":1,}`:                  "invalid: the request is not valid JSON: invalid character '}' looking for beginning of object key string",
		`{"version":1,"now":"yesterday"}`: `invalid: bad request: now: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`,
		`{"version":1,"evidence":[{"weight":"heavy"}]}`:    "invalid: bad request: evidence: weight: heavy is not a number",
		`{"version":1,"evidence":[{"positive":"yes"}]}`:    "invalid: bad request: evidence: positive: json: cannot unmarshal string into Go value of type bool",
		`{"version":1,"evidence":[{"weight":1e400}]}`:      "invalid: bad request: evidence: weight: 1e400 is not a number",
		`{"version":1,"evidence":{"kind":"task"}}`:         "invalid: bad request: evidence: json: cannot unmarshal object into Go value of type []sdk.Evidence",
		`{"version":1,"evidence":[{"time":"2026-11-25"}]}`: `invalid: bad request: evidence: time: parsing time "2026-11-25" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"`,
	} {
		if _, err := decodeFast([]byte(req), fastScoreRequest); err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", req, err, want)
		}
	}
	for req, want := range map[string]string{
		`{"role":"solver"}`:                     "invalid: the request has no version (this SDK speaks version 1)",
		`{"version":1,"generation":2147483648}`: "invalid: bad request: generation: 2147483648 is out of range",
		`{"version":1,"generation":1.5}`:        "invalid: bad request: generation: 1.5 is not an integer",
		`{"version":1,"trust":"high"}`:          "invalid: bad request: trust: high is not a number",
		`{"version":1,"role":5}`:                "invalid: bad request: role: json: cannot unmarshal number into Go value of type string",
	} {
		if _, err := decodeFast([]byte(req), fastAdjustRequest); err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", req, err, want)
		}
	}
}

// TestResultEnvelopeMatchesEncodingJSON: a hand-written score or adjustment
// is what encoding/json writes, and one that is not finite gives
// encoding/json's error.
func TestResultEnvelopeMatchesEncodingJSON(t *testing.T) {
	results := []any{
		Adjustment{},
		Adjustment{Version: 1, MutationBias: 0.5, ResourceHeadroom: 0.2, CanaryPace: 0.625},
		Adjustment{Version: 1, MutationBias: 1e-9, ResourceHeadroom: 3e21, CanaryPace: math.Copysign(0, -1)},
		Adjustment{Version: 1, CanaryPace: math.NaN()},
	}
	for _, ts := range []TrustScore{
		{},
		{Version: 1, Score: 0.5, Uncertainty: 1, LowerBound: 0.05},
		{Version: 1, Score: 1e-7, Uncertainty: 1e21, LowerBound: math.Copysign(0, -1)},
		{Version: 1, Score: 0.8333333333333334, Uncertainty: 2.220446049250313e-16, LowerBound: 123456789},
		{Version: -3, Score: -2.5e-10, Uncertainty: math.MaxFloat64, LowerBound: math.SmallestNonzeroFloat64},
		{Version: 1, Score: math.NaN()},
		{Version: 1, Uncertainty: math.Inf(1)},
		{Version: 1, LowerBound: math.Inf(-1)},
	} {
		results = append(results, ts)
	}
	for _, r := range results {
		var want []byte
		if inner, err := json.Marshal(r); err != nil {
			want = errorEnvelope(&Error{Code: CodeFailed, Message: "cannot encode the result: " + err.Error()})
		} else {
			want, _ = json.Marshal(envelope{V: EnvelopeVersion, Result: inner})
		}
		if got := resultEnvelope(r); string(got) != string(want) {
			t.Errorf("%+v:\ngot  %s\nwant %s", r, got, want)
		}
	}
}

// FuzzTrustDecode compares the trust request's fast path with the general
// one on arbitrary input (go test -fuzz FuzzTrustDecode ./sdk-wasm/; plain go
// test runs the seeds): whatever the fast path accepts, the general path
// accepts with the same request, and decodeFast always gives the general
// path's result or error.
func FuzzTrustDecode(f *testing.F) {
	for _, c := range trustCorpus {
		if len(c.request) < 1000 {
			f.Add([]byte(c.request))
		}
	}
	f.Fuzz(func(t *testing.T, request []byte) {
		checkTrustDecode(t, request)
	})
}

// FuzzAdjustDecode is FuzzTrustDecode for the personality request.
func FuzzAdjustDecode(f *testing.F) {
	for _, c := range adjustCorpus {
		f.Add([]byte(c.request))
	}
	f.Fuzz(func(t *testing.T, request []byte) {
		checkAdjustDecode(t, request)
	})
}

// BenchmarkScoreRequestDecode decodes a request of 20 evidence records, as
// host/trust writes them, through the fast path and through the general one.
func BenchmarkScoreRequestDecode(b *testing.B) {
	request := []byte(`{"version":1,"now":"2026-11-25T12:00:00Z","config":{"subject":"agent/agent-00001@1.0.0"},"evidence":[` +
		strings.Repeat(`{"time":"2026-11-03T17:21:09Z","kind":"task","positive":true,"weight":1.2345678901234567,"detail":""},`, 19) +
		`{"time":"2026-11-03T17:21:09Z","kind":"crash","positive":false,"weight":0.75,"detail":""}]}`)
	for _, path := range []struct {
		name   string
		decode func([]byte) (ScoreRequest, error)
	}{
		{"fast", func(r []byte) (ScoreRequest, error) { return decodeFast(r, fastScoreRequest) }},
		{"general", general[ScoreRequest]},
	} {
		b.Run(path.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if req, err := path.decode(request); err != nil || len(req.Evidence) != 20 {
					b.Fatal(len(req.Evidence), err)
				}
			}
		})
	}
}
