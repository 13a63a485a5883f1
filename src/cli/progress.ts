/**
 * One line of progress on a terminal: packages done of the total, bytes when
 * the work reports them, the rate and the time left. Drawn over itself with
 * `\r` through Io.progress and cleared at the end; a Progress made with
 * `enabled: false` (stderr not a terminal, or --json) draws nothing.
 */
import { formatBytes } from './common.js';
import type { Io } from './io.js';

export interface Step {
  /** Packages finished, 1-based, and how many there are. */
  done: number;
  total: number;
  /** Bytes finished so far (cumulative), when the work counts them. */
  bytes?: number;
  /** What was just finished, e.g. `hello 1.0`. */
  label: string;
}

export interface Progress {
  /** Start a phase: show `text` and restart the clock the rate and time left are measured on. */
  phase(text: string): void;
  /** Show a finished step of the current phase (redrawn at most every `interval` ms, the first and last always). */
  step(s: Step): void;
  /** Remove the line (before other output, and at the end); the next phase or step draws it again. */
  clear(): void;
}

export interface ProgressOptions {
  enabled: boolean;
  /** Milliseconds; tests pass their own clock. */
  now?: () => number;
  /** Least milliseconds between two redraws of steps; default 100. */
  interval?: number;
}

/** m:ss, or h:mm:ss past an hour. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const mm = String(Math.floor(s / 60) % 60);
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm.padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** The text of a step `elapsed` ms into its phase, cut to `columns - 1` characters when given. */
export function stepText(s: Step, elapsed: number, columns?: number): string {
  const parts = [`[${s.done}/${s.total}] ${s.label}`];
  if (s.bytes !== undefined) parts.push(formatBytes(s.bytes));
  if (elapsed > 0 && s.done > 0) {
    const secs = elapsed / 1000;
    parts.push(s.bytes !== undefined ? `${formatBytes(Math.round(s.bytes / secs))}/s` : `${(s.done / secs).toFixed(1)} packages/s`);
    if (s.done < s.total) parts.push(`${formatDuration((elapsed / s.done) * (s.total - s.done))} left`);
  }
  const line = parts.join(', ');
  return columns && columns > 1 && line.length > columns - 1 ? line.slice(0, columns - 1) : line;
}

export function createProgress(io: Io, opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const interval = opts.interval ?? 100;
  const draw = opts.enabled && io.progress ? io.progress : undefined;
  let start = now();
  let last = -Infinity;
  let shown = false;
  const show = (text: string) => {
    draw!(io.columns && text.length > io.columns - 1 ? text.slice(0, io.columns - 1) : text);
    shown = true;
  };
  return {
    phase(text) {
      start = now();
      last = -Infinity;
      if (draw) show(text);
    },
    step(s) {
      if (!draw) return;
      const t = now();
      if (t - last < interval && s.done < s.total) return;
      last = t;
      show(stepText(s, t - start, io.columns));
    },
    clear() {
      if (draw && shown) draw('');
      shown = false;
    },
  };
}
