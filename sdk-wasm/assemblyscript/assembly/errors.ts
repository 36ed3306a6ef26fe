// Errors with envelope codes (ABI.md §2).

/** The request was wrong. */
export const CODE_INVALID = "invalid";
/** The plugin could not do it. */
export const CODE_FAILED = "failed";
/** The plugin crashed and its SDK caught it (the host then discards the instance). */
export const CODE_PANIC = "panic";
/** The plugin has no such operation. */
export const CODE_UNIMPLEMENTED = "unimplemented";

/**
 * An error answered in the envelope, {"v":1,"error":{"code","message"}}:
 * the plugin ran fine and refused the request. Handlers return one (see
 * invalid, failed, unimplemented) instead of a result; a code other than
 * the four of ABI.md is sent as "failed" with the code kept in the message.
 */
export class PluginError {
  constructor(public code: string, public message: string) {}

  /** "code: message". */
  toString(): string {
    return this.code + ": " + this.message;
  }
}

/** An error with code "invalid": the request was wrong. */
export function invalid(message: string): PluginError {
  return new PluginError(CODE_INVALID, message);
}

/** An error with code "failed": the plugin could not do it. */
export function failed(message: string): PluginError {
  return new PluginError(CODE_FAILED, message);
}

/** An error with code "unimplemented". */
export function unimplemented(message: string): PluginError {
  return new PluginError(CODE_UNIMPLEMENTED, message);
}

/** normalizeError maps any code onto the four of ABI.md, as the Go SDK does. */
export function normalizeError(e: PluginError): PluginError {
  const c = e.code;
  if (c == CODE_INVALID || c == CODE_FAILED || c == CODE_PANIC || c == CODE_UNIMPLEMENTED) return e;
  if (c == "") return new PluginError(CODE_FAILED, e.message);
  return new PluginError(CODE_FAILED, e.toString());
}
