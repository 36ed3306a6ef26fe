package plugin

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseEnvelope(t *testing.T) {
	good := []struct{ in, result, code, msg string }{
		{`{"v":1,"result":{"version":1,"score":0.5}}`, `{"version":1,"score":0.5}`, "", ""},
		{" \n{ \"result\" : {} , \"v\" : 1 }\t", `{}`, "", ""},
		{`{"v":1,"result":{"a":[1,-2.5e+3,true,false,null,"\u00e9\n\"x\""]},"extra":{"ignored":[]}}`, `{"a":[1,-2.5e+3,true,false,null,"\u00e9\n\"x\""]}`, "", ""},
		{`{"\u0076":1,"result":{}}`, `{}`, "", ""},
		{`{"v":1,"error":{"code":"invalid","message":"n must be positive"}}`, "", "invalid", "n must be positive"},
		{`{"v":1,"error":{"code":"unimplemented"}}`, "", "unimplemented", ""},
		{`{"v":1,"result":null,"error":{"code":"failed","message":"m"}}`, "", "failed", "m"},
	}
	for _, c := range good {
		res, ge, err := parseEnvelope([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if string(res) != c.result {
			t.Fatalf("%s: result %s, want %s", c.in, res, c.result)
		}
		if (ge == nil) != (c.code == "") || (ge != nil && (ge.Code != c.code || ge.Message != c.msg)) {
			t.Fatalf("%s: guest error %+v", c.in, ge)
		}
	}
	bad := []struct{ in, want string }{
		{``, "blank"},
		{`   `, "blank"},
		{`hello`, "not JSON"},
		{`{"v":1,"result":{}`, "not JSON"},
		{`{"v":1,"result":{}}}`, "after the envelope"},
		{`{"v":1,"result":{}} {}`, "after the envelope"},
		{`{"v":1,"result":{"a":01}}`, "not JSON"},
		{`{"v":1,"result":{"a":"\x"}}`, "invalid escape"},
		{"{\"v\":1,\"result\":{\"a\":\"\x01\"}}", "control character"},
		{`{"v":1,"result":{"a":tru}}`, "expected true"},
		{`{"v":1,"result":{"a":1.}}`, "digit after '.'"},
		{`{"v":1,"result":{"a":1e}}`, "exponent"},
		{`{"v":1,"result":{"a":"\u12"}}`, "hex"},
		{`{"v":1,"result":{,}}`, "string key"},
		{`{"v":1,"result":[1,]}`, "expected a value"},
		{`[]`, "not an envelope"},
		{`"v"`, "not an envelope"},
		{`{"result":{}}`, `no "v"`},
		{`{"v":"1","result":{}}`, `"v": "1"`},
		{`{"v":1.0,"result":{}}`, "envelope version 1"},
		{`{"v":1,"v":1,"result":{}}`, "twice"},
		{`{"v":1}`, "neither"},
		{`{"v":1,"result":null}`, "neither"},
		{`{"v":1,"result":{},"error":{"code":"x"}}`, "both"},
		{`{"v":1,"result":[]}`, "not a JSON object"},
		{`{"v":1,"error":"boom"}`, "not an object"},
		{`{"v":1,"error":{"message":"m"}}`, `no "code"`},
		{`{"v":1,"error":{"code":""}}`, `no "code"`},
		{`{"v":1,"error":{"code":5}}`, "malformed"},
		{`{"v":1,"result":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "nesting deeper"},
	}
	for _, c := range bad {
		_, _, err := parseEnvelope([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%.60s: error %v, want %q", c.in, err, c.want)
		}
	}
}

// TestScannerAgreesWithEncodingJSON mutates valid documents at random and
// checks that the scanner accepts exactly what encoding/json accepts.
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	seeds := []string{
		`{"a":[1,2.5,-3e-2,true,false,null],"b":{"c":"d\"\\\/\b\f\n\r\t\u00e9"},"e":""}`,
		`[0,-0,0.0,1E+2,1e-2,"x",{},[],[[]],{"":{}}]`,
		`{"version":1,"candidates":[{"id":"c-0001","genome":{"x":0.25,"steps":["2opt","oropt"]}}]}`,
		"\"long string with no specials at all, spanning several words of eight bytes\"",
	}
	alphabet := []byte(`{}[]:,"\/ubfnrt0123456789.eE+-aeflnrstu x` + "\x00\x1f\x7f\xc3\xa9")
	rng := rand.New(rand.NewPCG(7, 11))
	check := func(doc []byte) {
		s := jscan{b: doc}
		err := s.value(0)
		if err == nil {
			s.ws()
			if s.i != len(doc) {
				err = s.errorf("trailing data")
			}
		}
		if got, want := err == nil, json.Valid(doc); got != want {
			t.Fatalf("scanner says valid=%v (%v), encoding/json says %v, for %q", got, err, want, doc)
		}
	}
	for _, seed := range seeds {
		check([]byte(seed))
		for range 3000 {
			doc := []byte(seed)
			for range 1 + rng.IntN(3) {
				i := rng.IntN(len(doc))
				switch rng.IntN(3) {
				case 0:
					doc[i] = alphabet[rng.IntN(len(alphabet))]
				case 1:
					doc = append(doc[:i:i], doc[i+1:]...)
				default:
					doc = append(doc[:i:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, doc[i:]...)...)
				}
				if len(doc) == 0 {
					break
				}
			}
			check(doc)
		}
	}
}

// FuzzScanner checks the scanner against encoding/json on arbitrary input
// (go test -fuzz FuzzScanner ./host/plugin/); plain go test runs the seeds.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"v":1,"result":{}}`, `[1,"a\u0000",{"b":null}]`, `"\ud800"`, `-0.0e+0`, `{"a":"b"`, "\"\x7f\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s := jscan{b: doc}
		err := s.value(0)
		if err == nil {
			s.ws()
			if s.i != len(doc) {
				err = s.errorf("trailing data")
			}
		}
		if (err == nil) != json.Valid(doc) {
			t.Fatalf("scanner valid=%v (%v), encoding/json valid=%v, for %q", err == nil, err, json.Valid(doc), doc)
		}
		_, _, _ = parseEnvelope(doc) // never panics
	})
}

// FuzzParseEnvelope checks the envelope decoder's contract on arbitrary
// responses (go test -fuzz FuzzParseEnvelope ./host/plugin/; plain go test
// runs the seeds and testdata/fuzz/FuzzParseEnvelope): it never panics,
// an accepted envelope is valid JSON with exactly one of a result (itself
// valid JSON) and an error (with a message), and a refusal says why.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"result":{"version":1,"score":0.5}}`,
		`{"v":1,"error":{"code":"invalid","message":"n must be positive"}}`,
		`{"v":1,"result":{},"error":{"code":"failed","message":"x"}}`,
		`{"v":2,"result":{}}`, `{"result":{}}`, `{"v":1}`, `[]`, `null`, ``, `{"v":1,"result":`,
		`{"v":1,"v":1,"result":1}`, `{"v":1,"result":"\udc00"}`, "{\"v\":1,\"result\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		result, guest, err := parseEnvelope(doc)
		if err != nil {
			if result != nil || guest != nil || err.Error() == "" {
				t.Fatalf("refused %q but returned result %q, guest %v, error %q", doc, result, guest, err)
			}
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("accepted invalid JSON %q", doc)
		}
		if (result == nil) == (guest == nil) {
			t.Fatalf("accepted %q with result %q and guest error %v: want exactly one", doc, result, guest)
		}
		if result != nil && !json.Valid(result) {
			t.Fatalf("result %q of %q is not valid JSON", result, doc)
		}
		if guest != nil && guest.Error() == "" {
			t.Fatalf("guest error of %q has no message", doc)
		}
	})
}
