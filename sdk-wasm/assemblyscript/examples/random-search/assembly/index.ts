// random-search: a strategy plugin written with the AssemblyScript SDK.
// Every proposal is a fresh genome drawn uniformly from the search space
// by a generator seeded from the run's seed; observe only counts results.
// The snapshot holds the space, the generator state and the id counter, so
// a restored instance proposes exactly what the original would have.

export * from "../../../assembly/strategy";
import {
  registerStrategy, Strategy, InitRequest, Candidate, Result, PluginError, invalid,
  JSONValue, JSONWriter, Rand, SearchSpace, decodeSearchSpace, Fields,
} from "../../../assembly";

class RandomSearch extends Strategy {
  space: SearchSpace = new SearchSpace();
  rng: Rand = new Rand(0);
  next: i64 = 0;
  observed: i64 = 0;

  init(req: InitRequest): PluginError | null {
    this.space = req.space;
    this.rng = new Rand(req.seed);
    this.next = 0;
    this.observed = 0;
    return null;
  }

  propose(n: i32, out: Array<Candidate>): PluginError | null {
    for (let i = 0; i < n; i++) {
      const c = new Candidate();
      this.next++;
      c.id = "c-" + this.next.toString();
      c.genome = this.rng.genome(this.space);
      c.operator = "random";
      out.push(c);
    }
    return null;
  }

  observe(results: Array<Result>): PluginError | null {
    this.observed += results.length;
    return null;
  }

  snapshot(state: JSONWriter): PluginError | null {
    state.beginObject().key("space");
    this.space.write(state);
    // The generator state is a u64: a string keeps all 64 bits.
    state.key("rng").string(this.rng.state.toString())
      .key("next").int(this.next)
      .key("observed").int(this.observed)
      .endObject();
    return null;
  }

  restore(state: JSONValue): PluginError | null {
    if (!state.isObject()) return invalid("state must be an object, got " + state.text());
    const f = new Fields(state, "state");
    this.rng = new Rand(f.u64("rng", 0));
    this.next = f.i64("next", 0);
    this.observed = f.i64("observed", 0);
    if (f.error != "") return invalid(f.error);
    const space = f.get("space");
    if (!space) return invalid("state.space is missing");
    const e = decodeSearchSpace(space, "state.space", this.space);
    if (e != "") return invalid(e);
    return null;
  }
}

function newRandomSearch(): Strategy {
  return new RandomSearch();
}

registerStrategy(newRandomSearch);
