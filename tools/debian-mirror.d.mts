/** Types of tools/debian-mirror.mjs, for the tests that use it. */
export function stanzaOf(packages: string, name: string): Record<string, string>;
export function debianMirror(opts: { out: string; packages: string[]; withDeps?: boolean; suite?: string }): string;
