// Entry point of the node player (started by test/env/start.sh; see docs/testenv.md).
//
//   node dist/test/env/nodeplayer/main.js --run-dir <run> [--kubeconfig <file>] [--images <file>]
//
// Environment: SECURESTACK_NODEPLAYER_IMAGES (image map, default <run>/nodeplayer-images.json),
// SECURESTACK_NODEPLAYER_SELECTOR (default securestack.io/component in (scanner,operator)),
// SECURESTACK_NODEPLAYER_MAX_RUNTIME (seconds any pod may run, default 1800),
// SECURESTACK_NODEPLAYER_KILL_GRACE (seconds between SIGTERM and SIGKILL, default 5).
import * as path from 'node:path';
import { log, Player } from './player';

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === `--${name}`) {
      return argv[i + 1];
    }
    if (a.startsWith(`--${name}=`)) {
      return a.slice(name.length + 3);
    }
  }
  return undefined;
}

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    throw new Error(`invalid setting ${name}: expected a number of seconds, got '${raw}'`);
  }
  return n;
}

async function main(): Promise<void> {
  const runDir = path.resolve(arg('run-dir') ?? process.env.SECURESTACK_RUN_DIR ?? '');
  if (!arg('run-dir') && !process.env.SECURESTACK_RUN_DIR) {
    throw new Error('--run-dir (or SECURESTACK_RUN_DIR) is required');
  }
  const player = new Player({
    runDir,
    kubeconfig: arg('kubeconfig') ?? path.join(runDir, 'kubeconfig'),
    imagesFile: arg('images') ?? process.env.SECURESTACK_NODEPLAYER_IMAGES ?? path.join(runDir, 'nodeplayer-images.json'),
    labelSelector: process.env.SECURESTACK_NODEPLAYER_SELECTOR || 'securestack.io/component in (scanner,operator)',
    maxRuntimeSeconds: seconds('SECURESTACK_NODEPLAYER_MAX_RUNTIME', 1800),
    killGraceSeconds: seconds('SECURESTACK_NODEPLAYER_KILL_GRACE', 5),
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    log('stopping', { signal });
    player.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await player.start();
}

main().catch((err: unknown) => {
  log('node player failed', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
