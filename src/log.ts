/**
 * A tiny leveled logger for the console of `openseg serve`. `text` prints the message alone, as a
 * person reads it; `json` prints one JSON object per line — `time` (ISO 8601), `level`, `msg`, then
 * the fields — for journald, Loki and the like. Messages below the chosen level are dropped.
 * Debug and info go to stdout, warn and error to stderr.
 *
 * @module
 */

export const LOG_FORMATS = ["text", "json"] as const;
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

export type LogFormat = typeof LOG_FORMATS[number];
export type LogLevel = typeof LOG_LEVELS[number];
/** Structured details of one message; JSON-serializable values. */
export type LogFields = Record<string, unknown>;

export type LogFunction = (message: string, fields?: LogFields) => void;

export interface Logger {
  debug: LogFunction;
  info: LogFunction;
  warn: LogFunction;
  error: LogFunction;
}

export interface LoggerOptions {
  format: LogFormat;
  /** The least severe level printed. */
  level: LogLevel;
  /** Where a finished line goes. Default: stdout for debug/info, stderr for warn/error. */
  write?: (line: string, level: LogLevel) => void;
  nowMs?: () => number;
}

/** A logger printing at `level` and above in `format`. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? writeToConsole;
  const nowMs = options.nowMs ?? Date.now;
  const least = LOG_LEVELS.indexOf(options.level);
  const at = (level: LogLevel): LogFunction => {
    if (LOG_LEVELS.indexOf(level) < least) return () => {};
    return (message, fields) => {
      if (options.format === "text") return write(message, level);
      const record: LogFields = { time: new Date(nowMs()).toISOString(), level, msg: message };
      // A field never overwrites the three fixed keys.
      for (const [key, value] of Object.entries(fields ?? {})) {
        if (!(key in record)) record[key] = value;
      }
      write(JSON.stringify(record), level);
    };
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/**
 * The logger of library code that was given none (tests, benchmarks): text at info and above.
 * `openseg serve` passes its configured logger everywhere instead.
 */
export const fallbackLogger: Logger = createLogger({ format: "text", level: "info" });

/** A logger whose messages start with `component: ` and carry a `component` field. */
export function withComponent(log: Logger, component: string): Logger {
  const at = (write: LogFunction): LogFunction => (message, fields) =>
    write(`${component}: ${message}`, { component, ...fields });
  return { debug: at(log.debug), info: at(log.info), warn: at(log.warn), error: at(log.error) };
}

/** One line for an unexpected error: its message (and stack at debug level elsewhere). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function writeToConsole(line: string, level: LogLevel): void {
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
}
