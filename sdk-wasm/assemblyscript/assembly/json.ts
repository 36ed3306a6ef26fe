// A small JSON reader and writer, enough for the envelopes and schemas of
// ABI v1 (sdk-wasm/ABI.md). It has no dependencies beyond the AssemblyScript
// standard library.
//
// Reader: parseJSON (a string) or parseJSONBytes (UTF-8 bytes) builds a tree
// of JSONValue. It follows RFC 8259 strictly (no comments, no trailing
// commas, no NaN literals), limits nesting to MAX_JSON_DEPTH, keeps every
// value's source span (JSONValue.text(), JSONWriter.value()) and reports the
// first problem through jsonError() instead of trapping. Numbers are f64;
// integers beyond 2^53 keep their exact text (JSONValue.text()).
//
// Writer: JSONWriter appends UTF-8 to a growable buffer and places commas by
// itself. A non-finite number cannot be written in JSON: the writer writes
// null instead and remembers the problem in JSONWriter.error.

/** The kinds of JSON value. */
export enum JSONKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** The deepest nesting of arrays and objects that the reader accepts. */
export const MAX_JSON_DEPTH: i32 = 512;

/**
 * One parsed JSON value. Its kind decides which fields mean something:
 * `bool` for Bool, `num` for Number, `str` for String, `items` for Array
 * and the values of an Object, `keys` for the keys of an Object.
 */
export class JSONValue {
  kind: JSONKind = JSONKind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  /** Array items, or Object values (in source order, parallel to keys). */
  items: Array<JSONValue> | null = null;
  /** Object keys in source order; a key may repeat (the last one wins). */
  keys: Array<string> | null = null;
  /** The source the value was parsed from, and its span there. */
  src: ArrayBuffer | null = null;
  start: i32 = 0;
  end: i32 = 0;

  isNull(): bool { return this.kind == JSONKind.Null; }
  isBool(): bool { return this.kind == JSONKind.Bool; }
  isNumber(): bool { return this.kind == JSONKind.Number; }
  isString(): bool { return this.kind == JSONKind.String; }
  isArray(): bool { return this.kind == JSONKind.Array; }
  isObject(): bool { return this.kind == JSONKind.Object; }

  /** The number of items of an Array or fields of an Object; 0 otherwise. */
  get length(): i32 {
    const items = this.items;
    return items ? items.length : 0;
  }

  /** The i-th item of an Array (or value of an Object), or null. */
  at(i: i32): JSONValue | null {
    const items = this.items;
    if (!items || i < 0 || i >= items.length) return null;
    return unchecked(items[i]);
  }

  /** The i-th key of an Object, or "". */
  keyAt(i: i32): string {
    const keys = this.keys;
    if (!keys || i < 0 || i >= keys.length) return "";
    return unchecked(keys[i]);
  }

  /** The value of field key of an Object (the last if it repeats), or null. */
  get(key: string): JSONValue | null {
    const keys = this.keys;
    const items = this.items;
    if (!keys || !items) return null;
    for (let i = keys.length - 1; i >= 0; i--) {
      if (unchecked(keys[i]) == key) return unchecked(items[i]);
    }
    return null;
  }

  /** The number, or def when this is not a Number. */
  getF64(def: f64 = 0): f64 { return this.kind == JSONKind.Number ? this.num : def; }
  /** The string, or def when this is not a String. */
  getString(def: string = ""): string { return this.kind == JSONKind.String ? this.str : def; }
  /** The boolean, or def when this is not a Bool. */
  getBool(def: bool = false): bool { return this.kind == JSONKind.Bool ? this.bool : def; }

  /** The value's JSON text as it appeared in the source (compact for values built without a source). */
  text(): string {
    const src = this.src;
    if (src) return String.UTF8.decodeUnsafe(changetype<usize>(src) + <usize>this.start, <usize>(this.end - this.start));
    const w = new JSONWriter(32);
    w.value(this);
    return w.toString();
  }
}

// ---------------------------------------------------------------------------
// Reader

let lastError: string = "";

/** Why the last parseJSON / parseJSONBytes returned null ("" after a success). */
export function jsonError(): string {
  return lastError;
}

/** Parses a JSON text; null (see jsonError) when it is not valid JSON. */
export function parseJSON(text: string): JSONValue | null {
  const buf = String.UTF8.encode(text);
  return parseJSONBytes(buf, 0, buf.byteLength);
}

/**
 * Parses the UTF-8 JSON text at [offset, offset+length) of buf; null (see
 * jsonError) when it is not valid JSON. The values keep a reference to buf.
 */
export function parseJSONBytes(buf: ArrayBuffer, offset: i32, length: i32): JSONValue | null {
  if (offset < 0 || length < 0 || offset + length > buf.byteLength) {
    lastError = "the span is outside the buffer";
    return null;
  }
  const p = new Parser(buf, offset, offset + length);
  p.ws();
  const v = p.value(0);
  if (v && p.err == "") {
    p.ws();
    if (p.pos < p.end) p.fail("unexpected " + p.describe() + " after the top-level value");
  }
  if (p.err != "") {
    lastError = p.err;
    return null;
  }
  lastError = "";
  return v;
}

class Parser {
  base: usize;
  pos: i32;
  end: i32;
  err: string = "";
  scratch: ArrayBuffer | null = null;

  constructor(public src: ArrayBuffer, start: i32, end: i32) {
    this.base = changetype<usize>(src);
    this.pos = start;
    this.end = end;
  }

  @inline peek(): i32 {
    return this.pos < this.end ? <i32>load<u8>(this.base + <usize>this.pos) : -1;
  }

  fail(msg: string): void {
    if (this.err == "") this.err = msg + " (at byte " + this.pos.toString() + ")";
  }

  describe(): string {
    const c = this.peek();
    if (c < 0) return "end of input";
    if (c >= 0x20 && c < 0x7f) return "character '" + String.fromCharCode(c) + "'";
    return "byte 0x" + (<u32>c).toString(16);
  }

  ws(): void {
    while (this.pos < this.end) {
      const c = load<u8>(this.base + <usize>this.pos);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      this.pos++;
    }
  }

  value(depth: i32): JSONValue | null {
    const c = this.peek();
    const v = new JSONValue();
    v.src = this.src;
    v.start = this.pos;
    switch (c) {
      case 0x7b: { // {
        if (depth >= MAX_JSON_DEPTH) { this.fail("nesting deeper than " + MAX_JSON_DEPTH.toString()); return null; }
        if (!this.object(v, depth + 1)) return null;
        break;
      }
      case 0x5b: { // [
        if (depth >= MAX_JSON_DEPTH) { this.fail("nesting deeper than " + MAX_JSON_DEPTH.toString()); return null; }
        if (!this.array(v, depth + 1)) return null;
        break;
      }
      case 0x22: { // "
        const s = this.string();
        if (s === null) return null;
        v.kind = JSONKind.String;
        v.str = s;
        break;
      }
      case 0x74: { // t
        if (!this.literal("true")) return null;
        v.kind = JSONKind.Bool;
        v.bool = true;
        break;
      }
      case 0x66: { // f
        if (!this.literal("false")) return null;
        v.kind = JSONKind.Bool;
        break;
      }
      case 0x6e: { // n
        if (!this.literal("null")) return null;
        break;
      }
      default: {
        if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
          if (!this.number(v)) return null;
        } else {
          this.fail("unexpected " + this.describe() + ", want a value");
          return null;
        }
      }
    }
    v.end = this.pos;
    return v;
  }

  literal(word: string): bool {
    const n = word.length;
    if (this.end - this.pos < n) { this.fail("invalid literal"); return false; }
    for (let i = 0; i < n; i++) {
      if (<i32>load<u8>(this.base + <usize>(this.pos + i)) != word.charCodeAt(i)) {
        this.fail("invalid literal, want " + word);
        return false;
      }
    }
    this.pos += n;
    return true;
  }

  digits(): i32 {
    const from = this.pos;
    while (this.pos < this.end) {
      const c = load<u8>(this.base + <usize>this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    return this.pos - from;
  }

  number(v: JSONValue): bool {
    const start = this.pos;
    let neg = false;
    if (this.peek() == 0x2d) { neg = true; this.pos++; }
    const first = this.peek();
    if (first == 0x30) {
      this.pos++;
    } else if (first >= 0x31 && first <= 0x39) {
      this.digits();
    } else {
      this.fail("invalid number: want a digit");
      return false;
    }
    const intEnd = this.pos;
    let plain = true;
    if (this.peek() == 0x2e) {
      plain = false;
      this.pos++;
      if (this.digits() == 0) { this.fail("invalid number: want a digit after '.'"); return false; }
    }
    const e = this.peek();
    if (e == 0x65 || e == 0x45) {
      plain = false;
      this.pos++;
      const sign = this.peek();
      if (sign == 0x2b || sign == 0x2d) this.pos++;
      if (this.digits() == 0) { this.fail("invalid number: want a digit in the exponent"); return false; }
    }
    v.kind = JSONKind.Number;
    const digitsFrom = neg ? start + 1 : start;
    if (plain && intEnd - digitsFrom <= 15) {
      // Exact in f64: accumulate.
      let x: f64 = 0;
      for (let i = digitsFrom; i < intEnd; i++) x = x * 10 + <f64>(load<u8>(this.base + <usize>i) - 0x30);
      v.num = neg ? -x : x;
    } else {
      v.num = parseFloat(String.UTF8.decodeUnsafe(this.base + <usize>start, <usize>(this.pos - start)));
    }
    return true;
  }

  hex4(): i32 {
    if (this.end - this.pos < 4) return -1;
    let x = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>load<u8>(this.base + <usize>(this.pos + i));
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return -1;
      x = (x << 4) | d;
    }
    this.pos += 4;
    return x;
  }

  // string reads a JSON string at pos (which holds '"'); null on error.
  string(): string | null {
    this.pos++; // opening quote
    const from = this.pos;
    // Fast path: no escapes.
    while (this.pos < this.end) {
      const c = load<u8>(this.base + <usize>this.pos);
      if (c == 0x22) {
        const s = String.UTF8.decodeUnsafe(this.base + <usize>from, <usize>(this.pos - from));
        this.pos++;
        return s;
      }
      if (c == 0x5c) break;
      if (c < 0x20) { this.fail("control character in a string"); return null; }
      this.pos++;
    }
    if (this.pos >= this.end) { this.fail("unterminated string"); return null; }
    // Slow path: unescape into scratch as UTF-8.
    let out = new ByteBuffer(this.pos - from + 16);
    out.appendBytes(this.base + <usize>from, this.pos - from);
    while (this.pos < this.end) {
      const c = <i32>load<u8>(this.base + <usize>this.pos);
      if (c == 0x22) {
        this.pos++;
        return String.UTF8.decodeUnsafe(out.ptr(), <usize>out.len);
      }
      if (c < 0x20) { this.fail("control character in a string"); return null; }
      if (c != 0x5c) { out.byte(c); this.pos++; continue; }
      this.pos++;
      const e = this.peek();
      this.pos++;
      switch (e) {
        case 0x22: out.byte(0x22); break;
        case 0x5c: out.byte(0x5c); break;
        case 0x2f: out.byte(0x2f); break;
        case 0x62: out.byte(0x08); break;
        case 0x66: out.byte(0x0c); break;
        case 0x6e: out.byte(0x0a); break;
        case 0x72: out.byte(0x0d); break;
        case 0x74: out.byte(0x09); break;
        case 0x75: { // \uXXXX
          let cp = this.hex4();
          if (cp < 0) { this.fail("invalid \\u escape"); return null; }
          if (cp >= 0xd800 && cp < 0xdc00) {
            // A high surrogate: combine with a following \uDC00-\uDFFF.
            const save = this.pos;
            if (this.peek() == 0x5c) {
              this.pos++;
              if (this.peek() == 0x75) {
                this.pos++;
                const lo = this.hex4();
                if (lo >= 0xdc00 && lo < 0xe000) {
                  cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else {
                  this.pos = save;
                  cp = 0xfffd;
                }
              } else {
                this.pos = save;
                cp = 0xfffd;
              }
            } else {
              cp = 0xfffd;
            }
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            cp = 0xfffd; // a lone low surrogate
          }
          out.codePoint(cp);
          break;
        }
        default: {
          this.pos--;
          this.fail("invalid escape in a string");
          return null;
        }
      }
    }
    this.fail("unterminated string");
    return null;
  }

  array(v: JSONValue, depth: i32): bool {
    v.kind = JSONKind.Array;
    const items = new Array<JSONValue>();
    v.items = items;
    this.pos++; // [
    this.ws();
    if (this.peek() == 0x5d) { this.pos++; return true; }
    while (true) {
      this.ws();
      const item = this.value(depth);
      if (!item) return false;
      items.push(item);
      this.ws();
      const c = this.peek();
      if (c == 0x2c) { this.pos++; continue; }
      if (c == 0x5d) { this.pos++; return true; }
      this.fail("unexpected " + this.describe() + " in an array, want ',' or ']'");
      return false;
    }
    return false;
  }

  object(v: JSONValue, depth: i32): bool {
    v.kind = JSONKind.Object;
    const keys = new Array<string>();
    const items = new Array<JSONValue>();
    v.keys = keys;
    v.items = items;
    this.pos++; // {
    this.ws();
    if (this.peek() == 0x7d) { this.pos++; return true; }
    while (true) {
      this.ws();
      if (this.peek() != 0x22) { this.fail("unexpected " + this.describe() + " in an object, want a key"); return false; }
      const key = this.string();
      if (key === null) return false;
      this.ws();
      if (this.peek() != 0x3a) { this.fail("unexpected " + this.describe() + " after an object key, want ':'"); return false; }
      this.pos++;
      this.ws();
      const item = this.value(depth);
      if (!item) return false;
      keys.push(key);
      items.push(item);
      this.ws();
      const c = this.peek();
      if (c == 0x2c) { this.pos++; continue; }
      if (c == 0x7d) { this.pos++; return true; }
      this.fail("unexpected " + this.describe() + " in an object, want ',' or '}'");
      return false;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------
// Byte buffer and writer

/**
 * formatNumber formats x as JSON writes it: an integer of magnitude below
 * 2^53 without a fraction ("2", where f64.toString gives "2.0"), anything
 * else in the shortest form that reads back exactly ("0.1", "1e+21", "NaN").
 */
export function formatNumber(x: f64): string {
  if (isFinite(x) && x == Math.floor(x) && Math.abs(x) < 9007199254740992.0) return (<i64>x).toString();
  return x.toString();
}

/** A growable byte buffer. */
export class ByteBuffer {
  buf: ArrayBuffer;
  len: i32 = 0;

  constructor(capacity: i32 = 64) {
    this.buf = changetype<ArrayBuffer>(__new(<usize>max(capacity, 16), idof<ArrayBuffer>()));
  }

  @inline ptr(): usize { return changetype<usize>(this.buf); }

  /** Makes room for n more bytes. */
  reserve(n: i32): void {
    const need = this.len + n;
    const cap = this.buf.byteLength;
    if (need <= cap) return;
    let next = cap << 1;
    if (next < need) next = need;
    const grown = changetype<ArrayBuffer>(__new(<usize>next, idof<ArrayBuffer>()));
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.len);
    this.buf = grown;
  }

  @inline byte(b: i32): void {
    this.reserve(1);
    store<u8>(this.ptr() + <usize>this.len, <u8>b);
    this.len++;
  }

  appendBytes(src: usize, n: i32): void {
    if (n <= 0) return;
    this.reserve(n);
    memory.copy(this.ptr() + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  /** Appends a string of ASCII characters (each code unit as one byte). */
  ascii(s: string): void {
    const n = s.length;
    this.reserve(n);
    const p = this.ptr() + <usize>this.len;
    const q = changetype<usize>(s);
    for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>load<u16>(q + (<usize>i << 1)));
    this.len += n;
  }

  /** Appends a code point as UTF-8. */
  codePoint(cp: i32): void {
    if (cp < 0x80) {
      this.byte(cp);
    } else if (cp < 0x800) {
      this.byte(0xc0 | (cp >> 6));
      this.byte(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      this.byte(0xe0 | (cp >> 12));
      this.byte(0x80 | ((cp >> 6) & 0x3f));
      this.byte(0x80 | (cp & 0x3f));
    } else {
      this.byte(0xf0 | (cp >> 18));
      this.byte(0x80 | ((cp >> 12) & 0x3f));
      this.byte(0x80 | ((cp >> 6) & 0x3f));
      this.byte(0x80 | (cp & 0x3f));
    }
  }

  /** The bytes so far, decoded as UTF-8. */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr(), <usize>this.len);
  }

  /** A copy of the bytes so far. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.len);
    memory.copy(out.dataStart, this.ptr(), <usize>this.len);
    return out;
  }
}

/**
 * JSONWriter writes compact JSON as UTF-8. It places commas itself: call
 * beginObject, then key and a value for each field, then endObject (arrays
 * likewise). A non-finite number is written as null and recorded in error.
 */
export class JSONWriter {
  out: ByteBuffer;
  /** The first problem met (a non-finite number), or "". */
  error: string = "";
  private comma: bool = false;

  constructor(capacity: i32 = 256) {
    this.out = new ByteBuffer(capacity);
  }

  /** Bytes written so far. */
  get length(): i32 { return this.out.len; }

  private sep(): void {
    if (this.comma) this.out.byte(0x2c);
    this.comma = true;
  }

  beginObject(): JSONWriter { this.sep(); this.out.byte(0x7b); this.comma = false; return this; }
  endObject(): JSONWriter { this.out.byte(0x7d); this.comma = true; return this; }
  beginArray(): JSONWriter { this.sep(); this.out.byte(0x5b); this.comma = false; return this; }
  endArray(): JSONWriter { this.out.byte(0x5d); this.comma = true; return this; }

  /** Writes an object key; the next call writes its value. */
  key(k: string): JSONWriter {
    this.sep();
    this.quote(k);
    this.out.byte(0x3a);
    this.comma = false;
    return this;
  }

  string(s: string): JSONWriter { this.sep(); this.quote(s); return this; }
  bool(b: bool): JSONWriter { this.sep(); this.out.ascii(b ? "true" : "false"); return this; }
  null(): JSONWriter { this.sep(); this.out.ascii("null"); return this; }
  int(x: i64): JSONWriter { this.sep(); this.out.ascii(x.toString()); return this; }
  uint(x: u64): JSONWriter { this.sep(); this.out.ascii(x.toString()); return this; }

  /**
   * Writes a number: integers of magnitude below 2^53 without a fraction
   * ("1", not "1.0"), others in the shortest form that reads back exactly.
   */
  number(x: f64): JSONWriter {
    this.sep();
    if (!isFinite(x)) {
      if (this.error == "") this.error = x.toString() + " is not a JSON number";
      this.out.ascii("null");
    } else {
      this.out.ascii(formatNumber(x));
    }
    return this;
  }

  /** Writes JSON text as it is; the caller vouches that it is one valid JSON value. */
  raw(json: string): JSONWriter {
    this.sep();
    const n = String.UTF8.byteLength(json);
    this.out.reserve(n);
    String.UTF8.encodeUnsafe(changetype<usize>(json), json.length, this.out.ptr() + <usize>this.out.len);
    this.out.len += n;
    return this;
  }

  /** Writes UTF-8 JSON bytes as they are; the caller vouches that they are one valid JSON value. */
  rawBytes(bytes: Uint8Array): JSONWriter {
    this.sep();
    this.out.appendBytes(bytes.dataStart, bytes.length);
    return this;
  }

  /** Writes a parsed value: its source text when it has one, else rebuilt. */
  value(v: JSONValue | null): JSONWriter {
    if (!v) return this.null();
    const src = v.src;
    if (src) {
      this.sep();
      this.out.appendBytes(changetype<usize>(src) + <usize>v.start, v.end - v.start);
      return this;
    }
    switch (v.kind) {
      case JSONKind.Bool: return this.bool(v.bool);
      case JSONKind.Number: return this.number(v.num);
      case JSONKind.String: return this.string(v.str);
      case JSONKind.Array: {
        this.beginArray();
        for (let i = 0, n = v.length; i < n; i++) this.value(v.at(i));
        return this.endArray();
      }
      case JSONKind.Object: {
        this.beginObject();
        for (let i = 0, n = v.length; i < n; i++) {
          this.key(v.keyAt(i));
          this.value(v.at(i));
        }
        return this.endObject();
      }
    }
    return this.null();
  }

  /** The JSON written so far, as a string. */
  toString(): string { return this.out.toString(); }

  /** Forgets everything written, keeping the buffer. */
  reset(): void {
    this.out.len = 0;
    this.error = "";
    this.comma = false;
  }

  // quote writes s as a JSON string: UTF-16 to UTF-8, escaping '"', '\',
  // control characters, and U+2028/U+2029; a lone surrogate becomes U+FFFD.
  private quote(s: string): void {
    const out = this.out;
    out.byte(0x22);
    const n = s.length;
    out.reserve(n + 2);
    const hex = "0123456789abcdef";
    for (let i = 0; i < n; i++) {
      let c = <i32>s.charCodeAt(i);
      if (c < 0x80) {
        if (c == 0x22 || c == 0x5c) {
          out.byte(0x5c);
          out.byte(c);
        } else if (c < 0x20) {
          switch (c) {
            case 0x0a: out.byte(0x5c); out.byte(0x6e); break;
            case 0x0d: out.byte(0x5c); out.byte(0x72); break;
            case 0x09: out.byte(0x5c); out.byte(0x74); break;
            default: {
              out.ascii("\\u00");
              out.byte(hex.charCodeAt(c >> 4));
              out.byte(hex.charCodeAt(c & 0xf));
            }
          }
        } else {
          out.byte(c);
        }
        continue;
      }
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
        const lo = <i32>s.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo < 0xe000) {
          out.codePoint(0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00));
          i++;
          continue;
        }
      }
      if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
      if (c == 0x2028 || c == 0x2029) {
        out.ascii(c == 0x2028 ? "\\u2028" : "\\u2029");
        continue;
      }
      out.codePoint(c);
    }
    out.byte(0x22);
  }
}
