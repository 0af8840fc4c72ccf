/** A mistake in how the command was called (unknown flag, missing argument): exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Something the user can fix (not found, bad input, wrong password): exit 1.
 * The message is one line, names the problem, and never contains a secret.
 */
export class UserError extends Error {
  override name = "UserError";
}

/** True for the errors that the entry point prints as one line instead of a bug report. */
export function isTypedError(e: unknown): e is UsageError | UserError {
  return e instanceof UsageError || e instanceof UserError;
}
