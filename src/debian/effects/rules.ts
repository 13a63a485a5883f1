/**
 * What the maintainer scripts of bookworm's essential set (and the helpers
 * they call) do on a first install into an empty root, as data. Reviewed
 * like code: every script of every package below was read, and each entry
 * says what minos reproduces or why the script does nothing on a fresh
 * install. A script whose text (after normalize()) no longer hashes to the
 * reviewed value still gets its rule applied, with a warning to review it.
 * A package with scripts and no rule gets one warning naming them.
 *
 * Paths are the ones the scripts write, as on a running system; ops on them
 * go through the merged-/usr mapping like any package path.
 */
import type { ScriptName } from './types.js';

/** One `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]...`. */
export interface AlternativeRule {
  name: string;
  link: string;
  path: string;
  priority: number;
  slaves: readonly { name: string; link: string; path: string }[];
}

/**
 * reproduced: its effects on a fresh install are the fields of this rule
 * (or a named generator). inert: it changes nothing in an image built from
 * scratch (acts only on upgrade, removal, purge or a running system).
 */
export type ScriptClass = 'reproduced' | 'inert';

export interface ScriptReview {
  /** sha256 of normalize(text) as reviewed: one per architecture whose text differs. */
  sha256: string | readonly string[];
  class: ScriptClass;
  why: string;
}

/** Effects computed by code rather than listed, each documented in docs/DEBIAN.md. */
export type Generator = 'passwd' | 'shells' | 'ldconfig' | 'pam-auth-update';

export interface PackageRule {
  scripts: Partial<Record<ScriptName, ScriptReview>>;
  alternatives?: readonly AlternativeRule[];
  /** `cp -p FROM TO` when TO is absent: bytes and mode of FROM, owned by root. */
  copyIfAbsent?: readonly { from: string; to: string }[];
  /** Folders made when absent (mode and group as the script sets them; owner root); `arches`: only on these. */
  dirs?: readonly { path: string; mode: number; group?: string; arches?: readonly string[] }[];
  /** Symlinks made when nothing is at PATH; `arches`: only on these Debian architectures. */
  links?: readonly { path: string; target: string; arches?: readonly string[] }[];
  /** A shipped empty folder replaced by a symlink (base-files' migrate_directory). */
  dirToLink?: readonly { path: string; target: string }[];
  /** Empty files made when absent. */
  emptyFiles?: readonly { path: string; mode: number; group?: string }[];
  /** Files with fixed content made when absent (state files of the helpers). */
  textFiles?: readonly { path: string; text: string }[];
  /** `dpkg-divert --package PKG --no-rename --divert TO --add PATH`. */
  diversions?: readonly { path: string; divertTo: string }[];
  generators?: readonly Generator[];
}

const TIMER_WANTS = '/etc/systemd/system/timers.target.wants';
const DSH = '/var/lib/systemd/deb-systemd-helper-enabled';

/** deb-systemd-helper enable UNIT (WantedBy=timers.target), as dh_installsystemd's snippet runs it. */
function enableTimer(unit: string): Pick<PackageRule, 'links' | 'textFiles' | 'emptyFiles' | 'dirs'> {
  return {
    dirs: [{ path: '/etc/systemd', mode: 0o755 }, { path: '/etc/systemd/system', mode: 0o755 }, { path: TIMER_WANTS, mode: 0o755 },
      { path: '/var/lib/systemd', mode: 0o755 }, { path: DSH, mode: 0o755 }, { path: `${DSH}/timers.target.wants`, mode: 0o755 }],
    links: [{ path: `${TIMER_WANTS}/${unit}`, target: `/lib/systemd/system/${unit}` }],
    textFiles: [{ path: `${DSH}/${unit}.dsh-also`, text: `${TIMER_WANTS}/${unit}\n` }],
    emptyFiles: [{ path: `${DSH}/timers.target.wants/${unit}`, mode: 0o644 }],
  };
}

const inert = (sha256: string | readonly string[], why: string): ScriptReview => ({ sha256, class: 'inert', why });
const done = (sha256: string | readonly string[], why: string): ScriptReview => ({ sha256, class: 'reproduced', why });

const UPGRADE_ONLY = 'acts only when upgrading ($2 set)';
const REMOVAL = 'runs only on removal or purge';
const MAINTSCRIPT_HELPER = 'dpkg-maintscript-helper rm_conffile/symlink_to_dir: acts only on upgrade from an older version';

const which = ['', 'de', 'es', 'fr', 'it', 'ja', 'pl', 'sl'].map((l) => ({
  name: l ? `which.${l}1.gz` : 'which.1.gz',
  link: `/usr/share/man/${l ? `${l}/` : ''}man1/which.1.gz`,
  path: `/usr/share/man/${l ? `${l}/` : ''}man1/which.debianutils.1.gz`,
}));

export const RULES: Readonly<Record<string, PackageRule>> = {
  'base-files': {
    scripts: { postinst: done('9d835f80f3815b5e5f49034027e9126e40d74c725e11cd37d4ae95dc490d209f', 'default dot files, /etc/profile, /etc/motd, top-level folders, /var/run and /var/lock links, /usr/local, log files, info dir') },
    links: [
      { path: '/etc/dpkg/origins/default', target: 'debian' },
      { path: '/var/spool/mail', target: '../mail' },
      { path: '/usr/local/man', target: 'share/man' },
    ],
    copyIfAbsent: [
      { from: '/usr/share/base-files/dot.profile', to: '/root/.profile' },
      { from: '/usr/share/base-files/dot.bashrc', to: '/root/.bashrc' },
      { from: '/usr/share/base-files/profile', to: '/etc/profile' },
      { from: '/usr/share/base-files/motd', to: '/etc/motd' },
      { from: '/usr/share/base-files/info.dir', to: '/usr/share/info/dir' },
    ],
    dirs: [
      ...['/mnt', '/srv', '/opt', '/etc/opt', '/var/opt', '/media'].map((path) => ({ path, mode: 0o755 })),
      { path: '/var/mail', mode: 0o2775, group: 'mail' },
      { path: '/run/lock', mode: 0o1777 },
      ...['', '/share', '/share/man', '/bin', '/games', '/lib', '/include', '/sbin', '/src', '/etc'].map((p) => ({ path: `/usr/local${p}`, mode: 0o755 })),
    ],
    dirToLink: [{ path: '/var/run', target: '/run' }, { path: '/var/lock', target: '/run/lock' }],
    emptyFiles: [
      { path: '/var/log/wtmp', mode: 0o664, group: 'utmp' },
      { path: '/var/log/btmp', mode: 0o660, group: 'utmp' },
      { path: '/var/log/lastlog', mode: 0o664, group: 'utmp' },
    ],
  },
  'base-passwd': {
    scripts: {
      preinst: done('47f6f8ee55faa32f7ff23337772c05bfcc7c01aa0804e1ffeffd71ebff0e21b9', '/etc/passwd and /etc/group when absent (the same lines as the master files)'),
      postinst: done('c372532e5cba8abf8fd60fba244ddb537fef4807ce0624698dafb4d21866710c', '/etc/passwd and /etc/group from the master files when absent; update-passwd only on upgrade'),
      postrm: inert('4378805f88ee5fdda13518b75e68e555161b664eeee00d2c91d494038a327973', REMOVAL),
    },
    generators: ['passwd'],
  },
  bash: {
    scripts: {
      postinst: done('4ee998c2d9d3b5f7bb6870a1c0be598c7e426d8af3efc2c89b5b175ec36e755c', '/bin/sh -> bash when absent; the builtins.7.gz alternative; update-menus is not installed'),
      prerm: inert('8d4c0e961f582ca7821cd5b81c8ba304a90f2ddfd6efd963f58cf6020eb2198a', 'removes its alternative on upgrade'),
      postrm: inert('9bee424a6f4b882ab48569e0cc488567786740db53a3bdca7175fbedbbf7933f', REMOVAL),
    },
    links: [{ path: '/bin/sh', target: 'bash' }],
    alternatives: [{ name: 'builtins.7.gz', link: '/usr/share/man/man7/builtins.7.gz', path: '/usr/share/man/man7/bash-builtins.7.gz', priority: 10, slaves: [] }],
  },
  coreutils: {
    scripts: { postinst: done('c74c21800ef2a0462534b5a447e290b466832cfa81d631b5971578aa4a496faa', '/usr/bin/touch -> /bin/touch when absent (never on a merged root)'), postrm: inert('2efeae0a35844164b09d152a3d58e8b1d380aa4d4bd119dbc3938a90824b59ce', REMOVAL) },
    links: [{ path: '/usr/bin/touch', target: '/bin/touch' }],
  },
  dash: {
    scripts: {
      postinst: done('1fd7a9289596244eb37ce8219ad942a531d8c965b5822cc47d7cdfd996cd598f', 'diverts /bin/sh and sh.1.gz to *.distrib (no rename); the links it ships stay'),
      prerm: inert('11de3854a4e92fc8033b6589d368392ae34c89c96f5b45d90af1a676fa737db2', REMOVAL),
      postrm: inert('6373ac5f4d89ebb0d833006fac255b78bd632cd2b8923c5ddbbacaa25de297a0', REMOVAL),
    },
    diversions: [
      { path: '/bin/sh', divertTo: '/bin/sh.distrib' },
      { path: '/usr/share/man/man1/sh.1.gz', divertTo: '/usr/share/man/man1/sh.distrib.1.gz' },
    ],
  },
  debconf: {
    scripts: {
      postinst: inert('a68350a8b685d1389704e246bcd25b25efaadda846d188ec4cd2ef7870636c10', 'only loads the debconf confmodule'),
      config: inert('4f6cca919cf82b607d0ec001e451566c887383c41320d796021eee66b4473db2', 'asks the frontend question; the default is kept (debconf database not pre-seeded)'),
    },
  },
  debianutils: {
    scripts: {
      postinst: done('a29569bd90a26a6eb8338afefbd7772b9dec3200379896a3d2d523fcc7a134d8', '/etc/shells from the default plus update-shells; the which alternative'),
      prerm: inert('149660db0f8a410d9b624bea7b185b41babefcdfccbf1df2845a8aa671bcc64f', REMOVAL),
      postrm: inert('04d57064e260c53fa3ee03ec7ce2f3b42efdcf755352cfa6b0dd983a68f7d918', REMOVAL),
      triggers: done('3ce557d2c051964127472f4d1c6cdf13a789cd01f7e0454dec5225d7c9480255', 'interest in shells.d: update-shells, run once'),
    },
    generators: ['shells'],
    alternatives: [{ name: 'which', link: '/usr/bin/which', path: '/usr/bin/which.debianutils', priority: 0, slaves: which }],
  },
  dpkg: {
    scripts: {
      postinst: done('2f3d6715ff26f9615ea9d10312a54fc48af53d95b09ff407f78ec367faca37e2', 'enables dpkg-db-backup.timer; the misplaced-alternatives fixup and merged-/usr check change nothing'),
      prerm: inert('2a32f93049106e3077f98c6c9d3f3e1861a129d0cdcf95fb6b56f142dffe12b9', REMOVAL),
      postrm: inert('ad487e92076636795fec87e3156d38cfb53d7cce8a0d626b6b7ca1c66b381c93', REMOVAL),
    },
    ...enableTimer('dpkg-db-backup.timer'),
  },
  'init-system-helpers': { scripts: { postinst: inert('22b1db010859db57c9bbc2ff275774375204043884a79f9b55368b21a7d46006', UPGRADE_ONLY) } },
  'libc-bin': {
    scripts: {
      postinst: done('3daa7e3ffd429c1d77287f0fc840a490a607697906d2303452f70578647ce0d4', '/etc/nsswitch.conf from the default when absent; ldconfig'),
      triggers: done('c3d6b5df131336e54c31dc5687929467de7abea5c5798e3d6a6b2a64ef971fd4', 'interest in ldconfig: /etc/ld.so.cache'),
    },
    copyIfAbsent: [{ from: '/usr/share/libc-bin/nsswitch.conf', to: '/etc/nsswitch.conf' }],
    generators: ['ldconfig'],
  },
  libc6: {
    scripts: {
      // amd64, then arm64 (there it makes /usr/lib and /lib -> usr/lib, which merged /usr already has).
      preinst: done(['4b560c836ca6fb56307d067b56d6399cc0288bed1bfa2990f1d15cbd6baefb78', 'fcff32f2bd1e9765dc716d6bf0590caee467ec770fbbee04e51a0af923414dc2'], 'with /lib a link and no /lib64, makes /usr/lib64 and /lib64 -> usr/lib64 (amd64); kernel checks only warn'),
      postinst: inert('457325703e976358f35bfe835e019ebcdd2ed168f1f921e2509d4dbf225ac96c', 'service restarts on upgrade; telinit is skipped in a chroot'),
      postrm: inert(['1a4690d39162ca4316e6ec31b296edc0c594017870e296f2a8d499280a5a64a6', 'cf76019c51b337b2de32f7a54ef465f86551b64776ff2c5f023737f76f123980'], REMOVAL),
    },
    dirs: [{ path: '/usr/lib64', mode: 0o755, arches: ['amd64'] }],
    links: [{ path: '/lib64', target: 'usr/lib64', arches: ['amd64'] }],
  },
  libgcrypt20: { scripts: { postinst: inert('1929f91f592f888af688194216e9e0734b5c5fccd19ba1037f2fdd8e8a8cfa10', UPGRADE_ONLY) } },
  'libpam-modules': {
    scripts: {
      preinst: inert('87c5a9bcde481ad65bb699df2693b69756622e6d0a6592b2f2d5d881b97e0580', UPGRADE_ONLY),
      postinst: done('35c3c5ed8aa0db4849cde8bb585a6a86736e4894ef2983002dbd037408c13c44', 'empty /etc/security/opasswd (0600) and /etc/environment'),
      postrm: inert('8e622685856c346b0521806b2e151a2e91206b4f4f11d51759c05a8246370e93', REMOVAL),
    },
    emptyFiles: [{ path: '/etc/security/opasswd', mode: 0o600 }, { path: '/etc/environment', mode: 0o644 }],
  },
  'libpam-runtime': {
    scripts: {
      postinst: done('df5d1ba9ea9787e230eee0a0a8feaee02265cc30485b6bd9f6828bbedb4eb401', 'pam-auth-update --package --force: /etc/pam.d/common-* and /var/lib/pam'),
      prerm: inert('bc0642a144204182b6a437947679bdbe86c62febc44700aec5a27a4d43a49727', REMOVAL),
      postrm: inert('fb130dd680ae19796300ca604c3632c08bd56ec6385606dbd33b5fa482d31229', REMOVAL),
    },
    generators: ['pam-auth-update'],
  },
  libpam0g: { scripts: { postinst: inert('115eb8d446552fa63d3dff297ab1c69c065c44a50f7dd69c34284c8991b589c6', UPGRADE_ONLY), postrm: inert('8e622685856c346b0521806b2e151a2e91206b4f4f11d51759c05a8246370e93', REMOVAL) } },
  login: {
    scripts: {
      preinst: inert('e047cbfffa87159958ee705ba04c31151236a7290ce1072a5632005603f346ca', MAINTSCRIPT_HELPER),
      postinst: done('e9a6ed50ca21329434b74ebbcb397923eecda0948e4c066476dac00bc4aa71c4', 'empty /var/log/faillog, /etc/subuid, /etc/subgid'),
      prerm: inert('e047cbfffa87159958ee705ba04c31151236a7290ce1072a5632005603f346ca', MAINTSCRIPT_HELPER),
      postrm: inert('e047cbfffa87159958ee705ba04c31151236a7290ce1072a5632005603f346ca', MAINTSCRIPT_HELPER),
    },
    emptyFiles: [{ path: '/var/log/faillog', mode: 0o644 }, { path: '/etc/subuid', mode: 0o644 }, { path: '/etc/subgid', mode: 0o644 }],
  },
  mawk: {
    scripts: { postinst: done('0daa7ced1404005288d316043ed56f15c3c21060a765cf262393fc2be840024d', 'the awk alternative'), prerm: inert('3c4b79132e92e354248c3aa717248a9508ca21b13e498353f2f8cf8ce0ffabf0', REMOVAL) },
    alternatives: [{
      name: 'awk', link: '/usr/bin/awk', path: '/usr/bin/mawk', priority: 5, slaves: [
        { name: 'awk.1.gz', link: '/usr/share/man/man1/awk.1.gz', path: '/usr/share/man/man1/mawk.1.gz' },
        { name: 'nawk', link: '/usr/bin/nawk', path: '/usr/bin/mawk' },
        { name: 'nawk.1.gz', link: '/usr/share/man/man1/nawk.1.gz', path: '/usr/share/man/man1/mawk.1.gz' },
      ],
    }],
  },
  perl: {
    scripts: {
      preinst: inert('f7221ad6bf379417a14267e3e23a84eeff67d2cbb8b7bdfbe5d04c74ac94beed', MAINTSCRIPT_HELPER),
      postinst: inert('70b2f36bdabd86865988e30334a75ef303035c8e6f32c17d94dd9ca4e168a2d0', 'removes an old rename alternative that a fresh root does not have; triggers only on upgrade'),
      prerm: inert('f7221ad6bf379417a14267e3e23a84eeff67d2cbb8b7bdfbe5d04c74ac94beed', MAINTSCRIPT_HELPER),
      postrm: inert('f7221ad6bf379417a14267e3e23a84eeff67d2cbb8b7bdfbe5d04c74ac94beed', MAINTSCRIPT_HELPER),
    },
  },
  'perl-base': {
    scripts: Object.fromEntries((['preinst', 'postinst', 'prerm', 'postrm'] as const).map((s) => [s, inert('0dd1293f4208e384c0fb2b504692f022a68188d82020eeb086ad775a32b0ec1d', MAINTSCRIPT_HELPER)])),
  },
  tar: {
    scripts: { postinst: done('4eed7466e8f44c6b480002d80becc0d998c462b759c0118e285170a93f4b3dca', 'the rmt alternative'), prerm: inert('de3fa1115a52ea8e0017f65b767176146e35585e050581adcef95aab495d648c', REMOVAL) },
    alternatives: [{ name: 'rmt', link: '/usr/sbin/rmt', path: '/usr/sbin/rmt-tar', priority: 50, slaves: [{ name: 'rmt.8.gz', link: '/usr/share/man/man8/rmt.8.gz', path: '/usr/share/man/man8/rmt-tar.8.gz' }] }],
  },
  usrmerge: {
    scripts: {
      preinst: inert('47a56941ebe370c101b000eca9eab6c745bcf47a270cd0f595069c1d2f6f8065', 'refuses a standalone /usr without initramfs (not the case in an image)'),
      // One text for all architectures; it names other triplets, so normalize() differs per architecture (amd64, arm64).
      postinst: done(['03b3a524d0179ac9e9d780ae432e85f4d4f9ea7287afcc08d59051c36c13e4c3', 'e90da07d3ab2709d76ca4f46616bb50de650c67d9814b6b53ab9c0d362b15eb7'], 'the root is already merged; its cleanup removes /lib32, /libx32, /libo32 links no package owns (minos never makes them)'),
      prerm: inert('9f40aeb20511a78d1bda08dcc180bd54a62a02e097545dfb32836c5a8ad611a7', REMOVAL),
      postrm: inert('9f40aeb20511a78d1bda08dcc180bd54a62a02e097545dfb32836c5a8ad611a7', REMOVAL),
    },
  },
  'util-linux': {
    scripts: {
      postinst: done('be8ee511ad25120d138b2146f94b5e47c6fe42bb84f9bd6ba3a641339af97828', 'the pager alternative; enables fstrim.timer'),
      prerm: inert('fd3374cd26d665d1dcd9a5d742d8cb70b17c585cb139d9c93606464709adfb07', REMOVAL),
      postrm: inert('22028d5ecf82b19c13a23e21643039486397425d739357c4547736eb642565f4', REMOVAL),
    },
    alternatives: [{ name: 'pager', link: '/usr/bin/pager', path: '/bin/more', priority: 50, slaves: [{ name: 'pager.1.gz', link: '/usr/share/man/man1/pager.1.gz', path: '/usr/share/man/man1/more.1.gz' }] }],
    ...enableTimer('fstrim.timer'),
  },
  'util-linux-extra': {
    scripts: {
      preinst: inert('f58cda9e9bd7d31f1ace74a0dd3da6175f1149a3a9984e2cf93a2e8fd0cb3399', UPGRADE_ONLY),
      postinst: done('03072cc8884e04bf54a0b3588426653b34b8672171007245757a5bc75f56bbb1', 'update-rc.d hwclock.sh defaults (LSB header: start S, stop 0 6)'),
      postrm: inert('9d1dfa65fe115fadd980840fb653a9139509fa15ea2595b7e949fe35fad419c4', REMOVAL),
    },
    dirs: ['/etc/rc0.d', '/etc/rc6.d', '/etc/rcS.d'].map((path) => ({ path, mode: 0o755 })),
    links: [
      { path: '/etc/rc0.d/K01hwclock.sh', target: '../init.d/hwclock.sh' },
      { path: '/etc/rc6.d/K01hwclock.sh', target: '../init.d/hwclock.sh' },
      { path: '/etc/rcS.d/S01hwclock.sh', target: '../init.d/hwclock.sh' },
    ],
  },
};

/** Lines of a `triggers` control member that minos reproduces for any package. */
// ldconfig: the cache is written (generator 'ldconfig'). update-initramfs: it rebuilds the
// initramfs of a kernel installed in the root by initramfs-tools; an image built by minos has
// none (its initramfs, if any, is the image), so the activation changes nothing.
export const KNOWN_TRIGGERS: readonly RegExp[] = [/^activate(-noawait)? ldconfig$/, /^activate(-noawait)? update-initramfs$/];

/**
 * The text a review hash covers: the architecture's GNU triplet and the
 * package's own version replaced by placeholders, so the same script
 * reviewed for amd64 matches on arm64 and across point releases.
 */
export function normalize(text: string, triplet: string, version: string): string {
  let t = text;
  if (triplet) t = t.split(triplet).join('@TRIPLET@');
  if (version) t = t.split(version).join('@VERSION@');
  return t;
}

/** The /dev entries debootstrap and mmdebstrap make in a new root (mmdebstrap's table). */
export const DEV_NODES: readonly (
  | { path: string; kind: 'char'; major: number; minor: number; mode: number }
  | { path: string; kind: 'dir'; mode: number }
  | { path: string; kind: 'link'; target: string }
)[] = [
  { path: '/dev', kind: 'dir', mode: 0o755 },
  { path: '/dev/console', kind: 'char', major: 5, minor: 1, mode: 0o666 },
  { path: '/dev/fd', kind: 'link', target: '/proc/self/fd' },
  { path: '/dev/full', kind: 'char', major: 1, minor: 7, mode: 0o666 },
  { path: '/dev/null', kind: 'char', major: 1, minor: 3, mode: 0o666 },
  { path: '/dev/ptmx', kind: 'char', major: 5, minor: 2, mode: 0o666 },
  { path: '/dev/pts', kind: 'dir', mode: 0o755 },
  { path: '/dev/random', kind: 'char', major: 1, minor: 8, mode: 0o666 },
  { path: '/dev/shm', kind: 'dir', mode: 0o755 },
  { path: '/dev/stderr', kind: 'link', target: '/proc/self/fd/2' },
  { path: '/dev/stdin', kind: 'link', target: '/proc/self/fd/0' },
  { path: '/dev/stdout', kind: 'link', target: '/proc/self/fd/1' },
  { path: '/dev/tty', kind: 'char', major: 5, minor: 0, mode: 0o666 },
  { path: '/dev/urandom', kind: 'char', major: 1, minor: 9, mode: 0o666 },
  { path: '/dev/zero', kind: 'char', major: 1, minor: 5, mode: 0o666 },
];
