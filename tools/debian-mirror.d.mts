/** Types of tools/debian-mirror.mjs, for the tests that use it. */
export function stanzaOf(packages: string, name: string): Record<string, string>;
export function debianMirror(opts: { out: string; packages: string[]; withDeps?: boolean; kernels?: boolean; suite?: string; arches?: string[] }): string;
