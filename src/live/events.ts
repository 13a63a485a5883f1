/**
 * What the live engine reports while it works. The library never prints: a
 * command passes `onEvent` and decides how each event looks.
 */
import type { ConfigNewEvent, ConfigSaveEvent, PackageEvent, WarningEvent } from '../engine/events.js';

export type LiveEvent =
  /** An interrupted transaction found at start-up was finished or undone. */
  | { type: 'recovered'; txn: string; command: string; pid: number; action: 'rolled back' | 'completed' | 'discarded' }
  /** A lock left by a dead process was taken over. */
  | { type: 'stale-lock'; pid: number; command: string; since: string }
  /** Waiting for another minos (--wait). */
  | { type: 'waiting'; pid: number; command: string; since: string }
  | { type: 'resolved'; install: number; upgrade: number; remove: number }
  | PackageEvent
  | { type: 'committing'; operations: number }
  | ConfigNewEvent
  | ConfigSaveEvent
  | WarningEvent;

export type Emit = (e: LiveEvent) => void;

export const noEvents: Emit = () => {};
