// What every command receives from the process: its streams and environment. Tests pass their own.
export interface CliContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGTERM / SIGINT (reason: HaSyncError 'TERMINATED'). */
  signal: AbortSignal;
}

/** A command: parses its own argv (after the command name) and returns the exit code. */
export type Command = (argv: string[], ctx: CliContext) => Promise<number>;
