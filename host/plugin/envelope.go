package plugin

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// maxJSONDepth bounds nesting in responses, as encoding/json does, so a
// hostile "[[[[..." cannot exhaust the host's stack.
const maxJSONDepth = 10000

// parseEnvelope checks that b is one well-formed JSON envelope (ABI.md §2)
// and returns its result, or the guest's error. The whole document is
// validated in one pass; result aliases b.
func parseEnvelope(b []byte) (result json.RawMessage, guest *GuestError, err error) {
	s := jscan{b: b}
	s.ws()
	if s.i >= len(b) {
		return nil, nil, errors.New("the response is blank, not a JSON envelope")
	}
	if b[s.i] != '{' {
		if err := s.value(0); err != nil {
			return nil, nil, err
		}
		return nil, nil, errors.New(`the response is JSON but not an envelope: it must be an object {"v":1,"result":{...}} or {"v":1,"error":{...}}`)
	}
	s.i++
	var v, res, gerr []byte
	s.ws()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.ws()
			if s.i >= len(b) || b[s.i] != '"' {
				return nil, nil, s.errorf("expected a string key")
			}
			start := s.i
			if err := s.str(); err != nil {
				return nil, nil, err
			}
			key, err := decodeKey(b[start:s.i])
			if err != nil {
				return nil, nil, err
			}
			s.ws()
			if s.i >= len(b) || b[s.i] != ':' {
				return nil, nil, s.errorf("expected ':' after a key")
			}
			s.i++
			s.ws()
			vstart := s.i
			if err := s.value(1); err != nil {
				return nil, nil, err
			}
			val := b[vstart:s.i]
			var slot *[]byte
			switch key {
			case "v":
				slot = &v
			case "result":
				slot = &res
			case "error":
				slot = &gerr
			}
			if slot != nil {
				if *slot != nil {
					return nil, nil, fmt.Errorf("the envelope has the key %q twice", key)
				}
				*slot = val
			}
			s.ws()
			if s.i < len(b) && b[s.i] == ',' {
				s.i++
				continue
			}
			if s.i < len(b) && b[s.i] == '}' {
				s.i++
				break
			}
			return nil, nil, s.errorf("expected ',' or '}' in the envelope")
		}
	}
	s.ws()
	if s.i != len(b) {
		return nil, nil, s.errorf("unexpected data after the envelope")
	}
	switch {
	case v == nil:
		return nil, nil, errors.New(`the envelope has no "v": answer {"v":1,...}`)
	case string(v) != "1":
		return nil, nil, fmt.Errorf(`the envelope has "v": %.40s; this host speaks envelope version 1`, v)
	}
	if bytes.Equal(res, []byte("null")) {
		res = nil
	}
	if bytes.Equal(gerr, []byte("null")) {
		gerr = nil
	}
	switch {
	case res != nil && gerr != nil:
		return nil, nil, errors.New(`the envelope has both "result" and "error"; exactly one is allowed`)
	case res == nil && gerr == nil:
		return nil, nil, errors.New(`the envelope has neither "result" nor "error"; exactly one is required`)
	case res != nil:
		if res[0] != '{' {
			return nil, nil, fmt.Errorf(`the envelope's "result" is %.40s, not a JSON object`, res)
		}
		return json.RawMessage(res), nil, nil
	}
	if gerr[0] != '{' {
		return nil, nil, fmt.Errorf(`the envelope's "error" is %.40s, not an object {"code":...,"message":...}`, gerr)
	}
	var e struct {
		Code    *string `json:"code"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(gerr, &e); err != nil {
		return nil, nil, fmt.Errorf(`the envelope's "error" is malformed: %v`, err)
	}
	if e.Code == nil || *e.Code == "" {
		return nil, nil, errors.New(`the envelope's "error" has no "code": use invalid, failed, panic or unimplemented`)
	}
	g := &GuestError{Code: *e.Code}
	if e.Message != nil {
		g.Message = *e.Message
	}
	return nil, g, nil
}

// decodeKey returns the text of a JSON string token.
func decodeKey(tok []byte) (string, error) {
	if bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1]), nil
	}
	var k string
	if err := json.Unmarshal(tok, &k); err != nil {
		return "", fmt.Errorf("not JSON: bad key %.40s: %v", tok, err)
	}
	return k, nil
}

// jscan is a validating JSON scanner that skips values without building
// them: responses can be megabytes and the caller decodes the result again
// anyway, so the host only checks and slices.
type jscan struct {
	b []byte
	i int
}

func (s *jscan) errorf(format string, a ...any) error {
	what := fmt.Sprintf(format, a...)
	if s.i >= len(s.b) {
		return fmt.Errorf("not JSON: %s, but the response ends at byte %d", what, s.i)
	}
	return fmt.Errorf("not JSON: %s at byte %d (found %q)", what, s.i, s.b[s.i])
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one JSON value starting at s.i (after whitespace).
func (s *jscan) value(depth int) error {
	if depth > maxJSONDepth {
		return s.errorf("nesting deeper than %d", maxJSONDepth)
	}
	s.ws()
	if s.i >= len(s.b) {
		return s.errorf("expected a value")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return nil
		}
		for {
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return s.errorf("expected a string key")
			}
			if err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return s.errorf("expected ':' after a key")
			}
			s.i++
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.i < len(s.b) && s.b[s.i] == '}' {
				s.i++
				return nil
			}
			return s.errorf("expected ',' or '}' in an object")
		}
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i < len(s.b) && s.b[s.i] == ',' {
				s.i++
				continue
			}
			if s.i < len(s.b) && s.b[s.i] == ']' {
				s.i++
				return nil
			}
			return s.errorf("expected ',' or ']' in an array")
		}
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.errorf("expected a value")
}

func (s *jscan) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("expected %s", lit)
	}
	s.i += len(lit)
	return nil
}

func (s *jscan) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *jscan) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.b):
		return s.errorf("expected a digit")
	case s.b[s.i] == '0':
		s.i++
	case s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.errorf("expected a digit")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.errorf("expected a digit after '.'")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.errorf("expected a digit in the exponent")
		}
	}
	return nil
}

// str skips a string starting at its opening quote. Plain runs are
// skipped 8 bytes at a time: a word is plain unless it holds a quote, a
// backslash or a control character.
func (s *jscan) str() error {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	s.i++
	// special has the high bit set in each byte of x that may be a quote,
	// a backslash or a control character (exact for "any").
	special := func(x uint64) uint64 {
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		return ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)
	}
	for {
		for s.i+32 <= len(s.b) {
			w := s.b[s.i : s.i+32]
			if (special(binary.LittleEndian.Uint64(w))|special(binary.LittleEndian.Uint64(w[8:]))|
				special(binary.LittleEndian.Uint64(w[16:]))|special(binary.LittleEndian.Uint64(w[24:])))&highs != 0 {
				break
			}
			s.i += 32
		}
		for s.i+8 <= len(s.b) && special(binary.LittleEndian.Uint64(s.b[s.i:]))&highs == 0 {
			s.i += 8
		}
		if s.i >= len(s.b) {
			return s.errorf("unterminated string")
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.errorf("unterminated escape")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return s.errorf("expected 4 hex digits after \\u")
					}
					s.i++
				}
			default:
				return s.errorf("invalid escape")
			}
		case c < 0x20:
			return s.errorf("control character in a string")
		default:
			s.i++
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
