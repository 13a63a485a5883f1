/**
 * Events both faces report while the engine works (the library never
 * prints: a command passes `onEvent` and decides how each looks).
 */

/** A package verified and staged; `bytes`: installed size staged so far. */
export interface PackageEvent { type: 'package'; name: string; version: string; index: number; total: number; bytes: number }

export interface WarningEvent { type: 'warning'; message: string }

/** A changed config file was kept; the packaged version is beside it. */
export interface ConfigNewEvent { type: 'config-new'; path: string; package: string }

/** A changed config file of a removed package was kept under a new name. */
export interface ConfigSaveEvent { type: 'config-save'; path: string; package: string }
