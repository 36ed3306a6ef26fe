// trust-mean: a trust plugin written with the AssemblyScript SDK.
//
// It scores the evidence by its weighted share of positive evidence,
// pulled towards 1/2 by a prior of strength k (config "prior", default 2):
//
//   P = sum of the weights of positive evidence, W = sum of all weights
//   score       = (P + k/2) / (W + k)
//   uncertainty = k / (W + k)            1 with no evidence
//   lowerBound  = score - 1.645 * sqrt(score (1 - score) / (W + k + 1)),
//                 clamped to [0, 1]      a one-sided 95% normal bound
//
// so no evidence gives 0.5 with uncertainty 1. A negative or non-finite
// weight, or a bad prior, is answered with an "invalid" error envelope.
// The result depends only on the evidence and its order, never on a clock.

export * from "../../../assembly/trust";
import { registerTrust, ScoreRequest, TrustScore, PluginError, invalid, Fields, formatNumber } from "../../../assembly";

/** The prior strength when the configuration names none. */
const DEFAULT_PRIOR: f64 = 2;

/** z of the one-sided 95% bound. */
const Z95: f64 = 1.6448536269514722;

function score(req: ScoreRequest, out: TrustScore): PluginError | null {
  let k = DEFAULT_PRIOR;
  const config = req.config;
  if (config) {
    if (!config.isObject()) return invalid("config must be an object, got " + config.text());
    const f = new Fields(config, "config");
    k = f.f64("prior", DEFAULT_PRIOR);
    if (f.error != "") return invalid(f.error);
    if (!(k > 0) || !isFinite(k)) return invalid("config.prior must be positive and finite, got " + formatNumber(k));
  }

  let positive: f64 = 0;
  let total: f64 = 0;
  for (let i = 0; i < req.evidence.length; i++) {
    const e = req.evidence[i];
    if (!(e.weight >= 0) || !isFinite(e.weight)) {
      return invalid("evidence[" + i.toString() + "].weight must be a finite number >= 0, got " + formatNumber(e.weight));
    }
    total += e.weight;
    if (e.positive) positive += e.weight;
  }

  const s = (positive + k / 2) / (total + k);
  out.score = s;
  out.uncertainty = k / (total + k);
  const lb = s - Z95 * Math.sqrt((s * (1 - s)) / (total + k + 1));
  out.lowerBound = lb < 0 ? 0 : lb > 1 ? 1 : lb;
  return null;
}

registerTrust(score);
