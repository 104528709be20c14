// How a process runs from an image's unpacked root file system without a container engine, the
// way a kubelet would run it: a private mount namespace (unshare), the root bind-mounted (read-only
// when the container asks for readOnlyRootFilesystem), the pod's volumes bind-mounted at their
// mount paths, /proc, /dev and an optional tmpfs /tmp, /etc/hosts from the node, then chroot with
// the container's user. Pure: it only builds the argv; the node player and test/support/image.ts
// spawn it.
import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface ChrootMount {
  /** A host file or folder. */
  host: string;
  /** Where it appears inside the image. */
  inside: string;
  readOnly: boolean;
}

export interface ChrootSpec {
  rootfs: string;
  argv: string[];
  env: Record<string, string>;
  /** "uid:gid". */
  user: string;
  workingDir: string;
  mounts: ChrootMount[];
  readOnlyRoot: boolean;
  /** Mount an empty tmpfs at /tmp (when no volume is mounted there). */
  tmpfsTmp: boolean;
  /** A network namespace to enter first (a pod's, held by its sandbox process): /proc/<pid>/ns/net. */
  netns?: string;
}

export const quote = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * A path inside the image as a host path, following symbolic links the way a container runtime
 * does: within the root, an absolute link target counting from the image's root (Debian's
 * /var/run -> /run), never leaving it through `..`.
 */
export function resolveInRoot(rootfs: string, inside: string): string {
  const parts = inside.split('/').filter(Boolean);
  const resolved: string[] = [];
  for (let hops = 0; parts.length > 0; ) {
    const part = parts.shift() ?? '';
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = path.join(rootfs, ...resolved, part);
    let target: string | undefined;
    try {
      target = lstatSync(host).isSymbolicLink() ? readlinkSync(host) : undefined;
    } catch {
      target = undefined; // not there yet: made below
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++hops > 40) throw new Error(`too many symbolic links resolving ${inside} in the image`);
    if (target.startsWith('/')) resolved.length = 0;
    parts.unshift(...target.split('/').filter(Boolean));
  }
  return path.join(rootfs, ...resolved);
}

/**
 * Makes the mount points the spec needs inside the root file system, and gives each mount its
 * resolved target. They live in the image's working-container layer and must exist before the
 * root turns read-only.
 */
export function prepareMountPoints(spec: Pick<ChrootSpec, 'rootfs' | 'mounts'>): void {
  for (const m of spec.mounts) {
    const target = resolveInRoot(spec.rootfs, m.inside);
    m.inside = path.relative(spec.rootfs, target) || '.';
    if (existsSync(target)) continue;
    if (statSync(m.host).isDirectory()) {
      mkdirSync(target, { recursive: true });
    } else {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, '');
    }
  }
  for (const dir of ['proc', 'dev', 'tmp']) if (!existsSync(path.join(spec.rootfs, dir))) mkdirSync(path.join(spec.rootfs, dir));
}

/** The argv that runs the spec: unshare + a shell script of mounts, ending in exec chroot. */
export function chrootArgv(spec: ChrootSpec): string[] {
  const root = spec.rootfs;
  const inRoot = (p: string): string => quote(path.join(root, p));
  const script = [
    'set -e',
    `mount --bind ${quote(root)} ${quote(root)}`,
    ...spec.mounts.flatMap((m) => [
      `mount --bind ${quote(m.host)} ${inRoot(m.inside)}`,
      ...(m.readOnly ? [`mount -o remount,bind,ro ${inRoot(m.inside)}`] : []),
    ]),
    `mount -t proc proc ${inRoot('proc')}`,
    `mount --rbind /dev ${inRoot('dev')}`,
    ...(spec.tmpfsTmp ? [`mount -t tmpfs -o mode=1777,size=64m tmpfs ${inRoot('tmp')}`] : []),
    ...(spec.readOnlyRoot ? [`mount -o remount,bind,ro ${quote(root)}`] : []),
    `cd ${quote(root)}`,
    // env -i: only the image's and the container's variables, as in a container.
    `exec chroot --userspec=${spec.user} ${quote(root)} /usr/bin/env -i ${Object.entries(spec.env).map(([key, value]) => quote(`${key}=${value}`)).join(' ')} /bin/sh -c ${quote(`cd ${quote(spec.workingDir)} && exec "$@"`)} sh ${spec.argv.map(quote).join(' ')}`,
  ].join('\n');
  // unshare --fork ignores SIGTERM itself, so callers signal the process group; --kill-child takes
  // the process down if unshare is killed outright.
  const unshare = ['unshare', '--mount', '--propagation', 'private', '--fork', '--kill-child', 'sh', '-c', script];
  return spec.netns ? ['nsenter', `--net=${spec.netns}`, ...unshare] : unshare;
}
