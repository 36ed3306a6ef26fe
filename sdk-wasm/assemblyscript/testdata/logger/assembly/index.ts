// logger: a trust plugin that logs each request through the log host
// function (capability "log") and answers a fixed score.

export * from "../../../assembly/trust";
import { registerTrust, ScoreRequest, TrustScore, PluginError, log, LogLevel } from "../../../assembly";

function score(req: ScoreRequest, out: TrustScore): PluginError | null {
  log(LogLevel.Warn, "scoring " + req.evidence.length.toString() + " pieces of evidence at " + req.now);
  out.score = 0.5;
  out.uncertainty = 1;
  out.lowerBound = 0.05;
  return null;
}

registerTrust(score);
