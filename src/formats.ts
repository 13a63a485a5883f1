/**
 * The output formats and squashfs compressions, as names only: the CLI's
 * help lists them without loading the library (tools/bundle.mjs), so this
 * module imports nothing.
 */
export const FORMATS = ['dir', 'tar', 'tar.zst', 'tar.gz', 'tar.xz', 'cpio', 'squashfs', 'erofs', 'oci', 'oci.tar'] as const;
export type OutputFormat = (typeof FORMATS)[number];

export const SQUASHFS_COMPRESSIONS = ['zstd', 'gzip', 'xz'] as const;
export type SquashfsCompression = (typeof SQUASHFS_COMPRESSIONS)[number];
