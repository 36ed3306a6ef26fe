// Search spaces, genomes and a seeded generator for strategy plugins
// (ABI.md §3): the same JSON as the API's SearchSpace, decoded leniently
// like the Go SDK (sdk-wasm/space.go, genome.go).

import { JSONValue, JSONKind, JSONWriter, formatNumber } from "./json";
import { Fields, describe } from "./decode";

/** Parameter types, as in Parameter.type. */
export const TYPE_FLOAT = "float";
export const TYPE_INT = "int";
export const TYPE_CATEGORICAL = "categorical";
export const TYPE_BOOL = "bool";
export const TYPE_SEQUENCE = "sequence";
export const TYPE_TEXT = "text";
export const TYPE_CODE = "code";

const TYPES: string[] = [TYPE_FLOAT, TYPE_INT, TYPE_CATEGORICAL, TYPE_BOOL, TYPE_SEQUENCE, TYPE_TEXT, TYPE_CODE];

/**
 * One gene of a search space. type says which of the settings apply:
 * float (min, max, log), int (intMin, intMax), categorical (choices), bool,
 * sequence (choices, minLength, maxLength), text (maxLength), code
 * (language, maxLength).
 */
export class Parameter {
  name: string = "";
  description: string = "";
  /** One of TYPE_FLOAT ... TYPE_CODE; "" when the JSON set none or several. */
  type: string = "";
  min: f64 = 0;
  max: f64 = 0;
  log: bool = false;
  intMin: i64 = 0;
  intMax: i64 = 0;
  choices: Array<string> = new Array<string>();
  minLength: i32 = 0;
  maxLength: i32 = 0;
  language: string = "";

  /** validate checks the parameter's own settings like the Go SDK; "" when fine. */
  validate(): string {
    const q = '"' + this.name + '"';
    if (this.name == "") return "parameter has no name";
    const t = this.type;
    if (t == TYPE_FLOAT) {
      if (!isFinite(this.min) || !isFinite(this.max)) return "parameter " + q + ": float bounds must be finite";
      if (this.min > this.max) return "parameter " + q + ": float min " + formatNumber(this.min) + " is above max " + formatNumber(this.max);
      if (this.log && this.min <= 0) return "parameter " + q + ": a log-scale float needs min > 0, got " + formatNumber(this.min);
    } else if (t == TYPE_INT) {
      if (this.intMin > this.intMax) return "parameter " + q + ": int min " + this.intMin.toString() + " is above max " + this.intMax.toString();
    } else if (t == TYPE_CATEGORICAL) {
      if (this.choices.length == 0) return "parameter " + q + ": categorical needs at least one choice";
    } else if (t == TYPE_SEQUENCE) {
      if (this.minLength < 0 || this.maxLength < this.minLength) {
        return "parameter " + q + ": sequence lengths must satisfy 0 <= minLength <= maxLength, got " + this.minLength.toString() + " and " + this.maxLength.toString();
      }
      if (this.maxLength > 0 && this.choices.length == 0) return "parameter " + q + ": sequence needs at least one choice";
    } else if (t == TYPE_TEXT || t == TYPE_CODE) {
      if (this.maxLength < 0) return "parameter " + q + ": " + t + " maxLength is negative";
    } else if (t != TYPE_BOOL) {
      return "parameter " + q + " must have exactly one type (float, int, categorical, bool, sequence, text or code)";
    }
    return "";
  }

  /** write writes the parameter as the API's JSON. */
  write(w: JSONWriter): void {
    w.beginObject().key("name").string(this.name);
    if (this.description != "") w.key("description").string(this.description);
    const t = this.type;
    if (t == "") {
      w.endObject();
      return;
    }
    w.key(t).beginObject();
    if (t == TYPE_FLOAT) {
      w.key("min").number(this.min).key("max").number(this.max);
      if (this.log) w.key("log").bool(true);
    } else if (t == TYPE_INT) {
      w.key("min").int(this.intMin).key("max").int(this.intMax);
    } else if (t == TYPE_CATEGORICAL || t == TYPE_SEQUENCE) {
      w.key("choices").beginArray();
      for (let i = 0; i < this.choices.length; i++) w.string(this.choices[i]);
      w.endArray();
      if (t == TYPE_SEQUENCE) w.key("minLength").int(this.minLength).key("maxLength").int(this.maxLength);
    } else if (t == TYPE_TEXT || t == TYPE_CODE) {
      if (t == TYPE_CODE && this.language != "") w.key("language").string(this.language);
      if (this.maxLength != 0) w.key("maxLength").int(this.maxLength);
    }
    w.endObject().endObject();
  }
}

/** The typed parameters of a genome. */
export class SearchSpace {
  parameters: Array<Parameter> = new Array<Parameter>();

  /** The parameter called name, or null. */
  lookup(name: string): Parameter | null {
    for (let i = 0; i < this.parameters.length; i++) {
      if (this.parameters[i].name == name) return this.parameters[i];
    }
    return null;
  }

  /** write writes the space as the API's JSON, {"parameters":[...]}. */
  write(w: JSONWriter): void {
    w.beginObject().key("parameters").beginArray();
    for (let i = 0; i < this.parameters.length; i++) this.parameters[i].write(w);
    w.endArray().endObject();
  }

  /** validate checks every parameter and that names are unique; "" when fine. */
  validate(): string {
    const seen = new Set<string>();
    for (let i = 0; i < this.parameters.length; i++) {
      const p = this.parameters[i];
      const e = p.validate();
      if (e != "") return "parameters[" + i.toString() + "]: " + e;
      if (seen.has(p.name)) return "parameters[" + i.toString() + "]: duplicate name \"" + p.name + "\"";
      seen.add(p.name);
    }
    return "";
  }
}

function stringList(f: Fields, name: string): Array<string> {
  const out = new Array<string>();
  const a = f.array(name);
  if (!a) return out;
  for (let i = 0, n = a.length; i < n; i++) {
    const v = a.at(i)!;
    if (v.kind != JSONKind.String) {
      f.fail(name + "[" + i.toString() + "]", describe(v) + " is not a string");
      break;
    }
    out.push(v.str);
  }
  return out;
}

/** decodeSearchSpace reads a SearchSpace; it returns the first problem (with path), or "". */
export function decodeSearchSpace(v: JSONValue, path: string, out: SearchSpace): string {
  if (v.kind != JSONKind.Object) return path + ": " + describe(v) + " is not an object";
  const f = new Fields(v, path);
  const list = f.array("parameters");
  if (!list) return f.error;
  for (let i = 0, n = list.length; i < n; i++) {
    const pv = list.at(i)!;
    const ppath = f.at("parameters[" + i.toString() + "]");
    if (pv.kind != JSONKind.Object) return ppath + ": " + describe(pv) + " is not an object";
    const g = new Fields(pv, ppath);
    const p = new Parameter();
    p.name = g.string("name", "");
    p.description = g.string("description", "");
    let types = 0;
    for (let k = 0; k < TYPES.length; k++) {
      const t = TYPES[k];
      const s = g.get(t);
      if (!s) continue;
      types++;
      p.type = t;
      if (s.kind != JSONKind.Object) {
        g.fail(t, describe(s) + " is not an object");
        break;
      }
      const h = new Fields(s, g.at(t));
      if (t == TYPE_FLOAT) {
        p.min = h.f64("min", 0);
        p.max = h.f64("max", 0);
        p.log = h.bool("log", false);
      } else if (t == TYPE_INT) {
        p.intMin = h.i64("min", 0);
        p.intMax = h.i64("max", 0);
      } else if (t == TYPE_CATEGORICAL) {
        p.choices = stringList(h, "choices");
      } else if (t == TYPE_SEQUENCE) {
        p.choices = stringList(h, "choices");
        p.minLength = h.i32("minLength", 0);
        p.maxLength = h.i32("maxLength", 0);
      } else if (t == TYPE_TEXT) {
        p.maxLength = h.i32("maxLength", 0);
      } else if (t == TYPE_CODE) {
        p.language = h.string("language", "");
        p.maxLength = h.i32("maxLength", 0);
      }
      if (h.error != "") return h.error;
    }
    if (g.error != "") return g.error;
    if (types != 1) p.type = "";
    out.parameters.push(p);
  }
  return f.error;
}

// ---------------------------------------------------------------------------
// Genomes

/** The kinds of gene value. */
export enum GeneKind {
  Float = 0,
  Int = 1,
  String = 2,
  Bool = 3,
  Sequence = 4,
}

/** One gene value: a number, an integer, a string, a boolean or a sequence of strings. */
export class Gene {
  kind: GeneKind = GeneKind.Float;
  num: f64 = 0;
  int: i64 = 0;
  str: string = "";
  bool: bool = false;
  seq: Array<string> = new Array<string>();

  static float(x: f64): Gene { const g = new Gene(); g.kind = GeneKind.Float; g.num = x; return g; }
  static integer(x: i64): Gene { const g = new Gene(); g.kind = GeneKind.Int; g.int = x; return g; }
  static string(s: string): Gene { const g = new Gene(); g.kind = GeneKind.String; g.str = s; return g; }
  static boolean(b: bool): Gene { const g = new Gene(); g.kind = GeneKind.Bool; g.bool = b; return g; }
  static sequence(s: Array<string>): Gene { const g = new Gene(); g.kind = GeneKind.Sequence; g.seq = s; return g; }

  /** The value as a number (an Int converts), NaN for other kinds. */
  asFloat(): f64 {
    if (this.kind == GeneKind.Float) return this.num;
    if (this.kind == GeneKind.Int) return <f64>this.int;
    return NaN;
  }

  /** A copy (sequences are copied too). */
  clone(): Gene {
    const g = new Gene();
    g.kind = this.kind;
    g.num = this.num;
    g.int = this.int;
    g.str = this.str;
    g.bool = this.bool;
    g.seq = this.seq.slice(0);
    return g;
  }

  write(w: JSONWriter): void {
    switch (this.kind) {
      case GeneKind.Float: w.number(this.num); break;
      case GeneKind.Int: w.int(this.int); break;
      case GeneKind.String: w.string(this.str); break;
      case GeneKind.Bool: w.bool(this.bool); break;
      default: {
        w.beginArray();
        for (let i = 0; i < this.seq.length; i++) w.string(this.seq[i]);
        w.endArray();
      }
    }
  }
}

/** Parameter values by name, in insertion order (the JSON object of ABI.md). */
export class Genome {
  names: Array<string> = new Array<string>();
  genes: Array<Gene> = new Array<Gene>();

  /** The gene called name, or null. */
  get(name: string): Gene | null {
    for (let i = 0; i < this.names.length; i++) if (this.names[i] == name) return this.genes[i];
    return null;
  }

  /** Sets (or replaces) the gene called name. */
  set(name: string, g: Gene): Genome {
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] == name) {
        this.genes[i] = g;
        return this;
      }
    }
    this.names.push(name);
    this.genes.push(g);
    return this;
  }

  /** The number called name (an integer converts), or def. */
  float(name: string, def: f64 = NaN): f64 {
    const g = this.get(name);
    if (!g || (g.kind != GeneKind.Float && g.kind != GeneKind.Int)) return def;
    return g.asFloat();
  }

  /** The string called name, or def. */
  string(name: string, def: string = ""): string {
    const g = this.get(name);
    return g && g.kind == GeneKind.String ? g.str : def;
  }

  /** A deep copy. */
  clone(): Genome {
    const out = new Genome();
    for (let i = 0; i < this.names.length; i++) out.set(this.names[i], this.genes[i].clone());
    return out;
  }

  write(w: JSONWriter): void {
    w.beginObject();
    for (let i = 0; i < this.names.length; i++) {
      w.key(this.names[i]);
      this.genes[i].write(w);
    }
    w.endObject();
  }

  /**
   * fromJSON reads a genome object (e.g. from a snapshot): numbers become
   * Float genes, strings, booleans and arrays of strings their kinds.
   * Returns null when v is not such an object.
   */
  static fromJSON(v: JSONValue): Genome | null {
    if (v.kind != JSONKind.Object) return null;
    const g = new Genome();
    for (let i = 0, n = v.length; i < n; i++) {
      const x = v.at(i)!;
      let gene: Gene;
      if (x.kind == JSONKind.Number) gene = Gene.float(x.num);
      else if (x.kind == JSONKind.String) gene = Gene.string(x.str);
      else if (x.kind == JSONKind.Bool) gene = Gene.boolean(x.bool);
      else if (x.kind == JSONKind.Array) {
        const seq = new Array<string>();
        for (let k = 0, m = x.length; k < m; k++) {
          const e = x.at(k)!;
          if (e.kind != JSONKind.String) return null;
          seq.push(e.str);
        }
        gene = Gene.sequence(seq);
      } else return null;
      g.set(v.keyAt(i), gene);
    }
    return g;
  }
}

// ---------------------------------------------------------------------------
// Rand

/**
 * Rand is a seeded generator (SplitMix64) whose whole state is one u64, so
 * a strategy can put it in its snapshot (state / setState) and reproduce
 * its proposals after restore. It is not the Go SDK's PCG: the same seed
 * gives other numbers than sdk.NewRand.
 */
export class Rand {
  state: u64;

  constructor(seed: u64) {
    this.state = seed;
  }

  /** The next 64 random bits. */
  next(): u64 {
    this.state += 0x9e3779b97f4a7c15;
    let z = this.state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }

  /** A float in [0, 1). */
  float(): f64 {
    return <f64>(this.next() >> 11) * (1.0 / 9007199254740992.0);
  }

  /** An integer in [0, n) (n > 0), without modulo bias. */
  intn(n: u64): u64 {
    if (n == 0) return 0;
    const limit = u64.MAX_VALUE - (u64.MAX_VALUE % n);
    let x = this.next();
    while (x >= limit) x = this.next();
    return x % n;
  }

  /** A float in [lo, hi]. */
  uniform(lo: f64, hi: f64): f64 {
    if (!(hi > lo)) return lo;
    const u = this.float();
    return Math.min(hi, Math.max(lo, lo * (1 - u) + hi * u));
  }

  /** A value drawn uniformly from p (log-uniformly for a log-scale float). */
  value(p: Parameter): Gene {
    const t = p.type;
    if (t == TYPE_FLOAT) {
      if (p.log && p.min > 0 && p.max > p.min) {
        return Gene.float(Math.min(p.max, Math.max(p.min, Math.exp(this.uniform(Math.log(p.min), Math.log(p.max))))));
      }
      return Gene.float(this.uniform(p.min, p.max));
    }
    if (t == TYPE_INT) {
      if (p.intMax <= p.intMin) return Gene.integer(p.intMin);
      const span = <u64>p.intMax - <u64>p.intMin + 1;
      return Gene.integer(span == 0 ? <i64>this.next() : <i64>(<u64>p.intMin + this.intn(span)));
    }
    if (t == TYPE_CATEGORICAL) return Gene.string(p.choices.length == 0 ? "" : p.choices[<i32>this.intn(<u64>p.choices.length)]);
    if (t == TYPE_BOOL) return Gene.boolean(this.intn(2) == 1);
    if (t == TYPE_SEQUENCE) {
      const n = p.minLength + <i32>this.intn(<u64>(p.maxLength - p.minLength + 1));
      const seq = new Array<string>();
      for (let i = 0; i < n && p.choices.length > 0; i++) seq.push(p.choices[<i32>this.intn(<u64>p.choices.length)]);
      return Gene.sequence(seq);
    }
    return Gene.string("");
  }

  /** A genome with every parameter of space drawn by value. */
  genome(space: SearchSpace): Genome {
    const g = new Genome();
    for (let i = 0; i < space.parameters.length; i++) {
      const p = space.parameters[i];
      g.set(p.name, this.value(p));
    }
    return g;
  }
}
