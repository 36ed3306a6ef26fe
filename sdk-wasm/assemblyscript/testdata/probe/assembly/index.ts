// probe: a personality plugin for the host tests. The request's role picks
// what happens; see testdata/README.md.

export * from "../../../assembly/personality";
import { registerPersonality, AdjustRequest, Adjustment, PluginError, failed } from "../../../assembly";

function adjust(req: AdjustRequest, out: Adjustment): PluginError | null {
  if (req.role == "refuse") return failed("refused on purpose (generation " + req.generation.toString() + ")");
  if (req.role == "throw") throw new Error("thrown on purpose");
  if (req.role == "bounds") {
    const a = new Array<i32>(1);
    out.canaryPace = <f64>a[req.generation];
    return null;
  }
  if (req.role == "nan") {
    out.mutationBias = NaN;
    return null;
  }
  out.mutationBias = 1 - req.trust;
  out.resourceHeadroom = 0.25;
  out.canaryPace = req.trust;
  return null;
}

registerPersonality(adjust);
