// The SecureStack image as the tests use it: built by test/env/image.sh (buildah, chroot
// isolation, a Node base made from Debian packages), inspected through buildah, and run without a
// container engine the way a kubelet runs it under the chart's securityContext: the image's root
// file system mounted read-only in a private mount namespace, an empty /tmp, the process chrooted
// into it as UID/GID 65532, with the host's network (the test plane is on loopback).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { chrootArgv, prepareMountPoints, type ChrootSpec } from '../env/nodeplayer/chroot';
import { repoRoot } from './cluster';
import { runDir as nodeplayerRunDir } from './nodeplayer';

const HOW_TO = 'run `npm test` (its prerequisites install buildah and mmdebstrap) or `apt-get install -y buildah mmdebstrap`, then `bash test/env/image.sh`';

function storageDir(): string {
  return process.env.SECURESTACK_CONTAINERS_DIR ?? path.join(repoRoot(), '.testenv', 'containers');
}

/** buildah with the storage test/env/image.sh builds into; throws with its stderr on failure. */
export function buildah(args: string[], options: { allowFail?: boolean } = {}): { code: number; stdout: string; stderr: string } {
  const storage = storageDir();
  const result = spawnSync('buildah', ['--root', path.join(storage, 'root'), '--runroot', path.join(storage, 'runroot'), '--storage-driver', 'vfs', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`buildah could not run (${result.error.message}): ${HOW_TO}`);
  const outcome = { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
  if (outcome.code !== 0 && !options.allowFail) throw new Error(`buildah ${args.join(' ')} failed (${outcome.code}): ${outcome.stderr.slice(-2000)}`);
  return outcome;
}

/**
 * Builds (or reuses) the image; its name, or with `pushTo` (HOST:PORT/REPO:TAG of a plain-HTTP
 * registry) the pushed reference with its digest. Minutes the first time (the base image), seconds after.
 */
export function buildImage(pushTo?: string): string {
  const built = buildAndPushImage(pushTo);
  return built.pushed ?? built.image;
}

/** Builds the image and, with `pushTo`, pushes it: the local name and the pushed reference@digest. */
export function buildAndPushImage(pushTo?: string): { image: string; pushed?: string } {
  const result = spawnSync('bash', [path.join(repoRoot(), 'test', 'env', 'image.sh'), ...(pushTo ? ['--push', pushTo] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`test/env/image.sh failed (${result.status ?? result.signal}): ${(result.stderr ?? '').slice(-3000)}\n${HOW_TO}`);
  const [image = '', pushed] = result.stdout.trim().split('\n').slice(pushTo ? -2 : -1);
  if (!image || (pushTo && !pushed)) throw new Error(`test/env/image.sh printed no image name: ${result.stdout}`);
  return pushed ? { image, pushed } : { image };
}

export interface ImageConfig {
  user: string;
  workingDir: string;
  entrypoint: string[];
  env: string[];
  /** As buildah lists it, for example "212 MB". */
  size: string;
}

/** Bytes of the image's root file system, unpacked (what a node stores for it). */
export function unpackedBytes(rootfs: string): number {
  const result = spawnSync('du', ['-sb', rootfs], { encoding: 'utf8' });
  return Number(result.stdout.split('\t')[0]);
}

export function inspectImage(image: string): ImageConfig {
  const inspected = JSON.parse(buildah(['inspect', '--type', 'image', image]).stdout) as { OCIv1: { config: { User?: string; WorkingDir?: string; Entrypoint?: string[]; Env?: string[] } } };
  const config = inspected.OCIv1.config;
  return { user: config.User ?? '', workingDir: config.WorkingDir ?? '', entrypoint: config.Entrypoint ?? [], env: config.Env ?? [], size: sizeOf(image) };
}

function sizeOf(image: string): string {
  const listed = JSON.parse(buildah(['images', '--json', image]).stdout) as Array<{ size?: string }>;
  return listed[0]?.size ?? '';
}

/** A working container of the image with its root file system mounted on the host. */
export interface MountedImage {
  container: string;
  rootfs: string;
  remove(): void;
}

export function mountImage(image: string): MountedImage {
  const container = buildah(['from', '--pull=never', image]).stdout.trim();
  const rootfs = buildah(['mount', container]).stdout.trim();
  return {
    container,
    rootfs,
    remove: () => {
      buildah(['umount', container], { allowFail: true });
      buildah(['rm', container], { allowFail: true });
    },
  };
}

export interface RunOptions {
  /** argv inside the image (absolute program path or one on the image's PATH). */
  argv: string[];
  env?: Record<string, string>;
  /** Host directories bind-mounted read-only at the given paths inside the image. */
  readOnlyMounts?: Record<string, string>;
  user?: string;
  workingDir?: string;
}

/**
 * Runs a process from a mounted image as a kubelet would with readOnlyRootFilesystem, runAsUser
 * 65532 and an emptyDir at /tmp: a private mount namespace (unshare), the root file system
 * bind-mounted read-only, /proc, /dev and /tmp mounted, then chroot with the user's ids.
 */
export function runInImage(mounted: MountedImage, options: RunOptions): ChildProcess {
  const spec: ChrootSpec = {
    rootfs: mounted.rootfs,
    argv: options.argv,
    env: options.env ?? {},
    user: options.user ?? '65532:65532',
    workingDir: options.workingDir ?? '/',
    mounts: Object.entries(options.readOnlyMounts ?? {}).map(([host, inside]) => ({ host, inside, readOnly: true })),
    readOnlyRoot: true,
    tmpfsTmp: true,
  };
  prepareMountPoints(spec);
  const [program, ...args] = chrootArgv(spec);
  // Its own process group, so stopping signals the group (stopInImage).
  return spawn(program ?? 'unshare', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

/** SIGTERM to the process in the image (as a kubelet stops a container), SIGKILL after `graceMs`. */
export async function stopInImage(child: ChildProcess, graceMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid ?? 0), name);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command in the image to completion; its exit code and output. */
export function runInImageSync(mounted: MountedImage, options: RunOptions, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runInImage(mounted, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => void stopInImage(child, 0), timeoutMs);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

/**
 * Tells the node player to run `repository` (any tag or digest) from the mounted image's root
 * file system with the image's own configuration: an entry in <run>/nodeplayer-images.d. Returns
 * the function that takes it away again.
 */
export function playImageFromRoot(name: string, repository: string, mounted: MountedImage, config: ImageConfig): () => void {
  const dir = path.join(nodeplayerRunDir(), 'nodeplayer-images.d');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const entry = { rootfs: mounted.rootfs, entrypoint: config.entrypoint, workingDir: config.workingDir, user: config.user, env: config.env };
  writeFileSync(file, `${JSON.stringify({ [repository]: entry }, null, 2)}\n`);
  return () => rmSync(file, { force: true });
}
