package sdk

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the fast path of the stateless operations, trust scoring and
// personality adjustment, which the host may call for every agent of a
// swarm. The general decoding of a request (decodeRequest: encoding/json
// into a map, then the field decoder of json.go, again for every evidence
// record) costs milliseconds for a trust request of 20 records inside
// WebAssembly, far more than scoring it. fastScoreRequest and
// fastAdjustRequest read a request in one pass, without reflection, and
// decline anything they cannot read exactly as decodeRequest would: keys
// that are escaped or not ASCII (their normalised form is Unicode case
// folding's business), a field given twice, a version other than the literal
// 1, a null evidence record, a value the general path rejects or reads in a
// form the fast path does not (so that the error, and its message, come from
// the general path), nesting deeper than fastMaxDepth, or any syntax error. A
// declined request goes through decodeRequest, so the result and every error
// are always those of the general path; TestFastPathMatchesGeneral,
// FuzzTrustDecode and FuzzAdjustDecode check that. The results, TrustScore
// and Adjustment, are written by hand too (appendResult).
//
// The host runs plugins with wazero's close-on-context-done checks, which
// make every loop iteration of the guest an exit to the host (about 0.1 µs),
// and Go's wasm code jumps between basic blocks through a loop, so in a
// plugin the cost of Go code is mostly the number of its jumps. Hence the
// scanner looks at strings and digits eight bytes at a time, matches the
// field names as ABI.md spells them without a loop, and reads the host's
// form of RFC 3339 without time's loops over the digits.

// fastMaxDepth bounds the nesting of the values the fast path skips; deeper
// ones go to the general path (encoding/json allows 10,000 levels).
const fastMaxDepth = 256

// decodeFast decodes request as decodeRequest(request, &req, false) does,
// through fast when it can.
func decodeFast[T any](request []byte, fast func([]byte) (T, bool)) (T, error) {
	if req, ok := fast(request); ok {
		return req, nil
	}
	var req T
	if err := decodeRequest(request, &req, false); err != nil {
		var zero T
		return zero, err
	}
	return req, nil
}

// The fields of the objects the fast path reads, as bits.
const (
	fVersion, fConfig uint8 = 1, 2 // ScoreRequest and AdjustRequest

	fNow, fEvidence uint8 = 4, 8 // ScoreRequest

	fRole, fGeneration, fTrust uint8 = 4, 8, 16 // AdjustRequest

	fTime, fKind, fPositive, fWeight, fDetail uint8 = 1, 2, 4, 8, 16 // Evidence
)

// fastScoreRequest decodes a ScoreRequest in one pass; ok is false when it
// declines (see above), and req is then meaningless.
func fastScoreRequest(data []byte) (req ScoreRequest, ok bool) {
	s := newScan(data)
	seen, ok := s.fields(scoreRequestField, func(field uint8) bool {
		switch field {
		case fVersion:
			return s.version(&req.Version)
		case fNow:
			return s.time(&req.Now)
		case fEvidence:
			return s.evidence(&req.Evidence)
		}
		return s.raw(&req.Config)
	})
	return req, ok && seen&fVersion != 0 && s.end()
}

// fastAdjustRequest decodes an AdjustRequest in one pass; ok is false when
// it declines (see above), and req is then meaningless.
func fastAdjustRequest(data []byte) (req AdjustRequest, ok bool) {
	s := newScan(data)
	seen, ok := s.fields(adjustRequestField, func(field uint8) bool {
		switch field {
		case fVersion:
			return s.version(&req.Version)
		case fRole:
			return s.string(&req.Role)
		case fGeneration:
			return s.int32(&req.Generation)
		case fTrust:
			return s.float(&req.Trust)
		}
		return s.raw(&req.Config)
	})
	return req, ok && seen&fVersion != 0 && s.end()
}

// fields reads an object. field names the field a key stands for (0 for an
// unknown one, whose value is skipped), read reads a field's value; a field
// given twice is declined. seen is the set of fields read.
func (s *jsonScan) fields(field func(key []byte) uint8, read func(field uint8) bool) (seen uint8, ok bool) {
	ok = s.object(func(key []byte) bool {
		f := field(key)
		switch {
		case f == 0:
			return s.skip(0)
		case seen&f != 0:
			return false
		}
		seen |= f
		return read(f)
	})
	return seen, ok
}

// version reads the version, the literal 1 (other forms that mean 1, such as
// "1" or 1.0, are declined).
func (s *jsonScan) version(dst *int) bool {
	n, ok := s.number()
	*dst = SchemaVersion
	return ok && string(n) == "1"
}

// raw copies any value but null (which leaves dst nil).
func (s *jsonScan) raw(dst *json.RawMessage) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	start := s.pos
	if !s.skip(0) {
		return false
	}
	*dst = append(json.RawMessage(nil), s.data[start:s.pos]...)
	return true
}

// end reports whether only whitespace is left.
func (s *jsonScan) end() bool {
	s.ws()
	return s.pos == len(s.data)
}

// evidence reads the evidence array (or null) into dst.
func (s *jsonScan) evidence(dst *[]Evidence) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	if !s.consume('[') {
		return false
	}
	// A record as the host writes it takes about 100 bytes.
	out := make([]Evidence, 0, min(1+(len(s.data)-s.pos)/100, 1024))
	if s.consume(']') {
		*dst = out
		return true
	}
	for {
		var e Evidence
		if !s.record(&e) {
			return false
		}
		out = append(out, e)
		if s.consume(',') {
			continue
		}
		*dst = out
		return s.consume(']')
	}
}

// record reads one evidence record, an object (the general path reads a null
// record as a zero one; the fast path declines it).
func (s *jsonScan) record(e *Evidence) bool {
	_, ok := s.fields(evidenceField, func(field uint8) bool {
		switch field {
		case fTime:
			return s.time(&e.Time)
		case fKind:
			return s.string(&e.Kind)
		case fPositive:
			return s.bool(&e.Positive)
		case fWeight:
			return s.float(&e.Weight)
		}
		return s.string(&e.Detail)
	})
	return ok
}

// time reads an RFC 3339 string (or null) as the general path does, with
// time.Time's own UnmarshalJSON unless parseUTC reads it.
func (s *jsonScan) time(dst *time.Time) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	raw, _ := s.str()
	if raw == nil {
		return false
	}
	if t, ok := parseUTC(raw[1 : len(raw)-1]); ok {
		*dst = t
		return true
	}
	return dst.UnmarshalJSON(raw) == nil
}

// parseUTC reads the form of RFC 3339 the host writes, in UTC:
// YYYY-MM-DDTHH:MM:SS, a fraction of 1 to 9 digits or none, and Z. It gives
// the time that time.Time.UnmarshalJSON gives (time.Date in UTC, after the
// same checks), without its loops over the digits; ok is false for any other
// form.
func parseUTC(s []byte) (t time.Time, ok bool) {
	n := len(s)
	if n < len("2006-01-02T15:04:05Z") || s[n-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	ok = true
	digit := func(i int) int {
		d := s[i] - '0'
		if d > 9 {
			ok = false
		}
		return int(d)
	}
	year := digit(0)*1000 + digit(1)*100 + digit(2)*10 + digit(3)
	month := digit(5)*10 + digit(6)
	day := digit(8)*10 + digit(9)
	hour := digit(11)*10 + digit(12)
	minute := digit(14)*10 + digit(15)
	sec := digit(17)*10 + digit(18)
	days := 31
	switch month {
	case 4, 6, 9, 11:
		days = 30
	case 2:
		days = 28
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			days = 29
		}
	}
	if !ok || month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if n > len("2006-01-02T15:04:05Z") {
		frac := s[19 : n-1]
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		for i := 1; i < len(frac); i++ {
			nsec = nsec*10 + digit(19+i)
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
		if !ok {
			return time.Time{}, false
		}
	}
	// Days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant's
	// days_from_civil; year >= 0, so y >= -1).
	y := year
	if month <= 2 {
		y--
	}
	era := (y+400)/400 - 1
	yoe := y - era*400
	doy := (153*((month+9)%12)+2)/5 + day - 1
	unixDays := era*146097 + yoe*365 + yoe/4 - yoe/100 + doy - 719468
	return time.Unix(int64(unixDays)*86400+int64(hour*3600+minute*60+sec), int64(nsec)).UTC(), true
}

// string reads a string (or null).
func (s *jsonScan) string(dst *string) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	start := s.pos
	raw, flags := s.str()
	switch {
	case raw == nil:
		return false
	case flags == 0, flags == strNonASCII && utf8.Valid(raw[1:len(raw)-1]):
		*dst = s.text[start+1 : s.pos-1]
	default:
		*dst = unquote(raw)
	}
	return true
}

// bool reads true, false (or null).
func (s *jsonScan) bool(dst *bool) bool {
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case 't':
		*dst = true
		return s.literal("true")
	case 'f':
		*dst = false
		return s.literal("false")
	}
	return false
}

// float reads a number or a numeric string (or null) as the general path
// does: decodeFloat64, which for a number is strconv.ParseFloat of its text.
func (s *jsonScan) float(dst *float64) bool {
	var f float64
	var err error
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '"':
		raw, _ := s.str()
		if raw == nil {
			return false
		}
		f, err = decodeFloat64(raw)
	default:
		start := s.pos
		if _, ok := s.number(); !ok {
			return false
		}
		f, err = strconv.ParseFloat(s.text[start:s.pos], 64)
	}
	*dst = f
	return err == nil
}

// int32 reads an integer (or null) as the general path does
// (fieldDecoder.int): a plain JSON integer within int32; other forms, such as
// "3" or 3.0, are declined.
func (s *jsonScan) int32(dst *int) bool {
	if s.peek() == 'n' {
		return s.literal("null")
	}
	start := s.pos
	if _, ok := s.number(); !ok {
		return false
	}
	n, err := strconv.ParseInt(s.text[start:s.pos], 10, 32)
	*dst = int(n)
	return err == nil
}

// scoreRequestField returns the ScoreRequest field that key names under
// normKey, or 0. The names as ABI.md spells them are matched first, without
// a loop.
func scoreRequestField(key []byte) uint8 {
	switch string(key) {
	case "version":
		return fVersion
	case "now":
		return fNow
	case "evidence":
		return fEvidence
	case "config":
		return fConfig
	}
	switch {
	case keyIs(key, "version"):
		return fVersion
	case keyIs(key, "now"):
		return fNow
	case keyIs(key, "evidence"):
		return fEvidence
	case keyIs(key, "config"):
		return fConfig
	}
	return 0
}

// adjustRequestField is scoreRequestField for AdjustRequest.
func adjustRequestField(key []byte) uint8 {
	switch string(key) {
	case "version":
		return fVersion
	case "role":
		return fRole
	case "generation":
		return fGeneration
	case "trust":
		return fTrust
	case "config":
		return fConfig
	}
	switch {
	case keyIs(key, "version"):
		return fVersion
	case keyIs(key, "role"):
		return fRole
	case keyIs(key, "generation"):
		return fGeneration
	case keyIs(key, "trust"):
		return fTrust
	case keyIs(key, "config"):
		return fConfig
	}
	return 0
}

// evidenceField is scoreRequestField for Evidence.
func evidenceField(key []byte) uint8 {
	switch string(key) {
	case "time":
		return fTime
	case "kind":
		return fKind
	case "positive":
		return fPositive
	case "weight":
		return fWeight
	case "detail":
		return fDetail
	}
	switch {
	case keyIs(key, "time"):
		return fTime
	case keyIs(key, "kind"):
		return fKind
	case keyIs(key, "positive"):
		return fPositive
	case keyIs(key, "weight"):
		return fWeight
	case keyIs(key, "detail"):
		return fDetail
	}
	return 0
}

// keyIs reports whether key (an object key's raw text, ASCII) is name, a
// lower-case name without underscores, under normKey: case and underscores
// do not count.
func keyIs(key []byte, name string) bool {
	j := 0
	for _, c := range key {
		if c == '_' {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if j == len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// jsonScan reads JSON from data[pos:] as strictly as encoding/json does
// (RFC 8259 with invalid UTF-8 allowed in strings). Every method reports
// false when the input is not what it reads, leaving pos anywhere.
type jsonScan struct {
	data []byte
	text string // string(data): the strings read are substrings of it
	pos  int
}

// newScan returns a scanner at the start of data. One copy of data backs
// every string read (and the numbers parsed), instead of an allocation for
// each.
func newScan(data []byte) *jsonScan {
	return &jsonScan{data: data, text: string(data)}
}

// ws skips JSON whitespace.
func (s *jsonScan) ws() {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return // the usual case, without entering the loop
	}
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *jsonScan) peek() byte {
	s.ws()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// consume skips whitespace and then c (not 0), reporting whether c was next.
func (s *jsonScan) consume(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.pos++
	return true
}

// literal reads word (true, false or null).
func (s *jsonScan) literal(word string) bool {
	s.ws()
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

// object reads an object, calling member for each member with its key's raw
// text and pos at the value; member reads the value. A key with an escape or
// a byte outside ASCII is declined.
func (s *jsonScan) object(member func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		raw, flags := s.str()
		if raw == nil || flags != 0 {
			return false
		}
		if !s.consume(':') || !member(raw[1:len(raw)-1]) {
			return false
		}
		if !s.consume(',') {
			return s.consume('}')
		}
	}
}

// skip reads any value at nesting depth depth.
func (s *jsonScan) skip(depth int) bool {
	switch s.peek() {
	case '"':
		raw, _ := s.str()
		return raw != nil
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '{':
		if depth >= fastMaxDepth {
			return false
		}
		return s.object(func([]byte) bool { return s.skip(depth + 1) })
	case '[':
		if depth >= fastMaxDepth {
			return false
		}
		s.pos++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if !s.consume(',') {
				return s.consume(']')
			}
		}
	}
	_, ok := s.number()
	return ok
}

// The flags of a string that str read.
const (
	strEscaped  = 1 // it has an escape
	strNonASCII = 2 // it has a byte outside ASCII
)

// str reads a string and returns its raw text, quotes included (nil when
// the input is not a string), and its flags.
func (s *jsonScan) str() (raw []byte, flags uint8) {
	if s.peek() != '"' {
		return nil, 0
	}
	d := s.data
	for i := s.pos + 1; i < len(d); {
		// Skip plain text eight bytes at a time.
		if len(d)-i >= 8 {
			m := special(binary.LittleEndian.Uint64(d[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		}
		switch c := d[i]; {
		case c == '"':
			raw := d[s.pos : i+1]
			s.pos = i + 1
			return raw, flags
		case c < 0x20:
			return nil, 0
		case c >= utf8.RuneSelf:
			flags |= strNonASCII
			i++
		case c != '\\':
			i++
		case i+1 == len(d):
			return nil, 0
		default:
			flags |= strEscaped
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if getu4(d[i:]) < 0 {
					return nil, 0
				}
				i += 6
			default:
				return nil, 0
			}
		}
	}
	return nil, 0
}

// special sets the top bit of every byte of w (eight bytes of a string,
// little-endian) that str must look at: a quote, a backslash, a control
// character or a byte outside ASCII. The lowest byte marked is always such a
// byte; bytes above it may be marked wrongly (borrows), which str does not
// look at.
func special(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	q := w ^ ones*'"'
	b := w ^ ones*'\\'
	return ((q-ones)&^q | (b-ones)&^b | (w-ones*0x20)&^w | w) & high
}

// nonDigit sets the top bit of every byte of w that is not a decimal digit
// (below '0', above '9' or outside ASCII); as in special, the lowest byte
// marked is always one.
func nonDigit(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	return ((w - ones*'0') | (w + ones*(0x7f-'9')) | w) & high
}

// number reads a number and returns its text.
func (s *jsonScan) number() ([]byte, bool) {
	s.ws()
	d, i := s.data, s.pos
	digits := func() bool {
		start := i
		for len(d)-i >= 8 {
			m := nonDigit(binary.LittleEndian.Uint64(d[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				return i > start
			}
			i += 8
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	raw := d[s.pos:i]
	s.pos = i
	return raw, true
}

// unquote returns the value of a string literal that str read, as
// encoding/json decodes it: escapes resolved, and invalid UTF-8 and unpaired
// surrogates replaced by U+FFFD.
func unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\\' {
			break
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	if i == len(s) {
		return string(s)
	}
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	b = append(b, s[:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\':
			switch c = s[i+1]; c {
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'u':
				r := getu4(s[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if dec := utf16.DecodeRune(r, getu4(s[i:])); dec != unicode.ReplacementChar {
						b = utf8.AppendRune(b, dec)
						i += 6
						continue
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			}
			b = append(b, c) // '"', '\\', '/' stand for themselves
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r)
			i += size
		}
	}
	return string(b)
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// appendResult writes a result of three float64 fields after its version,
// {"version":V,"NAME":X,...}, as encoding/json writes TrustScore and
// Adjustment; ok is false when a value is not finite (encoding/json's error
// then says so).
func appendResult(b []byte, version int, names [3]string, values [3]float64) ([]byte, bool) {
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, false
		}
	}
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	for i, f := range values {
		b = append(b, `,"`...)
		b = append(b, names[i]...)
		b = append(b, `":`...)
		b, _ = appendJSONFloat(b, f, 64)
	}
	return append(b, '}'), true
}
