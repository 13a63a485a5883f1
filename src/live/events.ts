/**
 * What the live engine reports while it works. The library never prints: a
 * command passes `onEvent` and decides how each event looks.
 */
export type LiveEvent =
  /** An interrupted transaction found at start-up was finished or undone. */
  | { type: 'recovered'; txn: string; command: string; pid: number; action: 'rolled back' | 'completed' | 'discarded' }
  /** A lock left by a dead process was taken over. */
  | { type: 'stale-lock'; pid: number; command: string; since: string }
  /** Waiting for another minos (--wait). */
  | { type: 'waiting'; pid: number; command: string; since: string }
  | { type: 'resolved'; install: number; upgrade: number; remove: number }
  /** `bytes`: installed size staged so far. */
  | { type: 'package'; name: string; version: string; index: number; total: number; bytes: number }
  | { type: 'committing'; operations: number }
  /** A changed config file was kept; the packaged version is beside it. */
  | { type: 'config-new'; path: string; package: string }
  /** A changed config file of a removed package was kept under a new name. */
  | { type: 'config-save'; path: string; package: string }
  | { type: 'warning'; message: string };

export type Emit = (e: LiveEvent) => void;

export const noEvents: Emit = () => {};
