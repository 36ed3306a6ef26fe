// Lenient decoding of requests, matching the Go SDK (sdk-wasm/json.go): a
// field is found by its name without case and underscores (minLength,
// min_length and minlength are the same key), JSON null is the same as
// absent, and numbers may come as JSON strings ("42", "1.5", "NaN",
// "Infinity"), as protojson writes 64-bit integers and special doubles.

import { JSONValue, JSONKind, parseJSON } from "./json";

/** sameKey reports whether key equals want (lower case, no '_') ignoring case and underscores. */
function sameKey(key: string, want: string): bool {
  let j = 0;
  const n = want.length;
  for (let i = 0, m = key.length; i < m; i++) {
    let c = <i32>key.charCodeAt(i);
    if (c == 0x5f) continue;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (j >= n || c != <i32>want.charCodeAt(j)) return false;
    j++;
  }
  return j == n;
}

function normalize(name: string): string {
  let out = "";
  for (let i = 0, n = name.length; i < n; i++) {
    const c = <i32>name.charCodeAt(i);
    if (c == 0x5f) continue;
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
  }
  return out;
}

/** field returns obj's field name (matched leniently; the last if repeated), or null when absent or JSON null. */
export function field(obj: JSONValue, name: string): JSONValue | null {
  const keys = obj.keys;
  const items = obj.items;
  if (!keys || !items) return null;
  const want = normalize(name);
  for (let i = keys.length - 1; i >= 0; i--) {
    if (sameKey(unchecked(keys[i]), want)) {
      const v = unchecked(items[i]);
      return v.kind == JSONKind.Null ? null : v;
    }
  }
  return null;
}

/** The text of a number: the value's JSON text, or the contents of a string that holds one. */
function numberText(v: JSONValue): string {
  return v.kind == JSONKind.String ? v.str.trim() : v.text();
}

/** describe quotes a value for an error message, shortened. */
export function describe(v: JSONValue): string {
  let t = v.text();
  if (t.length > 40) t = t.slice(0, 37) + "...";
  return t;
}

/** toF64 reads a number or a numeric string ("1.5", "NaN", "Infinity", "-Infinity"); ok is false otherwise. */
export function toF64(v: JSONValue, ok: StaticArray<bool>): f64 {
  ok[0] = true;
  if (v.kind == JSONKind.Number) return v.num;
  if (v.kind == JSONKind.String) {
    const s = v.str.trim();
    if (s == "NaN") return NaN;
    if (s == "Infinity" || s == "+Infinity") return Infinity;
    if (s == "-Infinity") return -Infinity;
    const n = parseJSON(s);
    if (n && n.kind == JSONKind.Number) return n.num;
  }
  ok[0] = false;
  return 0;
}

/** The decimal digits of s from index from, as u64; ok[0] is false when there are none, others, or too many. */
function parseDigits(s: string, from: i32, ok: StaticArray<bool>): u64 {
  let x: u64 = 0;
  const n = s.length;
  if (from >= n) { ok[0] = false; return 0; }
  for (let i = from; i < n; i++) {
    const c = <i32>s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) { ok[0] = false; return 0; }
    const d = <u64>(c - 0x30);
    if (x > (u64.MAX_VALUE - d) / 10) { ok[0] = false; return 0; }
    x = x * 10 + d;
  }
  ok[0] = true;
  return x;
}

/**
 * toI64 reads an integer written as a JSON number or a string: exact for
 * plain digits, and an integral float (1e3, 2.0) is accepted too.
 */
export function toI64(v: JSONValue, ok: StaticArray<bool>): i64 {
  if (v.kind != JSONKind.Number && v.kind != JSONKind.String) { ok[0] = false; return 0; }
  const s = numberText(v);
  const neg = s.startsWith("-");
  const mag = parseDigits(s, neg ? 1 : 0, ok);
  if (ok[0]) {
    if (!neg && mag <= <u64>i64.MAX_VALUE) return <i64>mag;
    if (neg && mag <= <u64>i64.MAX_VALUE + 1) return -(<i64>mag);
    ok[0] = false;
    return 0;
  }
  const f = toF64(v, ok);
  if (!ok[0] || f != Math.trunc(f) || Math.abs(f) >= 9223372036854775808.0) { ok[0] = false; return 0; }
  return <i64>f;
}

/** toU64 reads an unsigned integer written as a JSON number or a string. */
export function toU64(v: JSONValue, ok: StaticArray<bool>): u64 {
  if (v.kind != JSONKind.Number && v.kind != JSONKind.String) { ok[0] = false; return 0; }
  const s = numberText(v);
  const x = parseDigits(s, 0, ok);
  if (ok[0]) return x;
  const f = toF64(v, ok);
  if (!ok[0] || f != Math.trunc(f) || f < 0 || f >= 18446744073709551616.0) { ok[0] = false; return 0; }
  return <u64>f;
}

/**
 * Fields reads typed fields out of a JSON object and remembers the first
 * problem, naming the field by its path (e.g. "evidence[2].weight").
 */
export class Fields {
  /** The first problem, or "". */
  error: string = "";
  private ok: StaticArray<bool> = new StaticArray<bool>(1);

  constructor(public obj: JSONValue, public path: string = "") {}

  /** The path of field name, for messages. */
  at(name: string): string {
    return this.path == "" ? name : this.path + "." + name;
  }

  fail(name: string, message: string): void {
    if (this.error == "") this.error = this.at(name) + ": " + message;
  }

  /** The raw field, or null when absent or JSON null. */
  get(name: string): JSONValue | null {
    return field(this.obj, name);
  }

  f64(name: string, def: f64): f64 {
    const v = field(this.obj, name);
    if (!v) return def;
    const x = toF64(v, this.ok);
    if (!this.ok[0]) { this.fail(name, describe(v) + " is not a number"); return def; }
    return x;
  }

  i64(name: string, def: i64): i64 {
    const v = field(this.obj, name);
    if (!v) return def;
    const x = toI64(v, this.ok);
    if (!this.ok[0]) { this.fail(name, describe(v) + " is not an integer"); return def; }
    return x;
  }

  i32(name: string, def: i32): i32 {
    const x = this.i64(name, <i64>def);
    if (x > <i64>i32.MAX_VALUE || x < <i64>i32.MIN_VALUE) { this.fail(name, x.toString() + " is out of range"); return def; }
    return <i32>x;
  }

  u64(name: string, def: u64): u64 {
    const v = field(this.obj, name);
    if (!v) return def;
    const x = toU64(v, this.ok);
    if (!this.ok[0]) { this.fail(name, describe(v) + " is not an unsigned integer"); return def; }
    return x;
  }

  string(name: string, def: string): string {
    const v = field(this.obj, name);
    if (!v) return def;
    if (v.kind != JSONKind.String) { this.fail(name, describe(v) + " is not a string"); return def; }
    return v.str;
  }

  bool(name: string, def: bool): bool {
    const v = field(this.obj, name);
    if (!v) return def;
    if (v.kind != JSONKind.Bool) { this.fail(name, describe(v) + " is not a boolean"); return def; }
    return v.bool;
  }

  /** An array field, or null when absent (or not an array, which is an error). */
  array(name: string): JSONValue | null {
    const v = field(this.obj, name);
    if (!v) return null;
    if (v.kind != JSONKind.Array) { this.fail(name, describe(v) + " is not an array"); return null; }
    return v;
  }

  /** An object field, or null when absent (or not an object, which is an error). */
  object(name: string): JSONValue | null {
    const v = field(this.obj, name);
    if (!v) return null;
    if (v.kind != JSONKind.Object) { this.fail(name, describe(v) + " is not an object"); return null; }
    return v;
  }

  /** A time field in RFC 3339 (see parseTime): Unix seconds, or NaN when absent or invalid (an error). */
  time(name: string): f64 {
    const v = field(this.obj, name);
    if (!v) return NaN;
    if (v.kind != JSONKind.String) { this.fail(name, describe(v) + " is not an RFC 3339 time string"); return NaN; }
    const t = parseTime(v.str);
    if (isNaN(t)) this.fail(name, describe(v) + " is not an RFC 3339 time such as 2026-11-25T12:00:00Z");
    return t;
  }
}

function digitsAt(s: string, i: i32, n: i32): i32 {
  if (i + n > s.length) return -1;
  let x = 0;
  for (let k = 0; k < n; k++) {
    const c = <i32>s.charCodeAt(i + k);
    if (c < 0x30 || c > 0x39) return -1;
    x = x * 10 + (c - 0x30);
  }
  return x;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: i64, m: i64, d: i64): i64 {
  if (m <= 2) y -= 1;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const mp = m > 2 ? m - 3 : m + 9;
  const doy = (153 * mp + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/**
 * parseTime reads an RFC 3339 time ("2026-11-25T12:00:00Z",
 * "2026-11-25T13:00:00.5+01:00") and returns Unix seconds (with the
 * fraction), or NaN when s is not one.
 */
export function parseTime(s: string): f64 {
  const n = s.length;
  if (n < 20) return NaN;
  const y = digitsAt(s, 0, 4), mo = digitsAt(s, 5, 2), d = digitsAt(s, 8, 2);
  const h = digitsAt(s, 11, 2), mi = digitsAt(s, 14, 2), sec = digitsAt(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return NaN;
  if (s.charCodeAt(4) != 0x2d || s.charCodeAt(7) != 0x2d || s.charCodeAt(13) != 0x3a || s.charCodeAt(16) != 0x3a) return NaN;
  const t = s.charCodeAt(10);
  if (t != 0x54 && t != 0x74 && t != 0x20) return NaN;
  const leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const mdays: i32 = mo == 2 ? (leap ? 29 : 28) : (mo == 4 || mo == 6 || mo == 9 || mo == 11 ? 30 : 31);
  if (d > mdays) return NaN;
  let i = 19;
  let frac: f64 = 0;
  if (i < n && s.charCodeAt(i) == 0x2e) {
    i++;
    let scale: f64 = 0.1;
    const from = i;
    while (i < n) {
      const c = <i32>s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      frac += <f64>(c - 0x30) * scale;
      scale /= 10;
      i++;
    }
    if (i == from) return NaN;
  }
  if (i >= n) return NaN;
  let offset: i64 = 0;
  const z = s.charCodeAt(i);
  if (z == 0x5a || z == 0x7a) {
    i++;
  } else if (z == 0x2b || z == 0x2d) {
    const oh = digitsAt(s, i + 1, 2), om = digitsAt(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59 || i + 3 >= n || s.charCodeAt(i + 3) != 0x3a) return NaN;
    offset = <i64>(oh * 3600 + om * 60);
    if (z == 0x2d) offset = -offset;
    i += 6;
  } else {
    return NaN;
  }
  if (i != n) return NaN;
  const days = daysFromCivil(<i64>y, <i64>mo, <i64>d);
  const secs = days * 86400 + <i64>(h * 3600 + mi * 60 + sec) - offset;
  return <f64>secs + frac;
}
