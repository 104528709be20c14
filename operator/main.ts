/**
 * SecureStack operator entry point: configuration, logging, metrics, then the manager.
 *
 *   node dist/operator/main.js [--workers=4] [--metrics-port=8080] ...
 *
 * Every setting also reads from SECURESTACK_* environment variables (operator/config.ts).
 */
import type { Server } from 'node:http';
import { ConfigError, loadConfig, type OperatorConfig } from './config';
import { ImageScanReconciler } from './controllers/imagescan';
import { imageScanJobWatch } from './controllers/types';
import { KubeClient } from './kube/client';
import { createLogger, type Logger } from './log';
import { EventRecorder } from './runtime/events';
import { boundPort, startHttpServer } from './runtime/http';
import { Manager } from './runtime/manager';
import { createMetrics } from './runtime/metrics';

function readConfig(): OperatorConfig {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`securestack: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const metrics = createMetrics();
  const client = KubeClient.fromDefault((verb, code) => metrics.kubeRequestErrors.inc({ verb, code: String(code) }));
  const events = new EventRecorder(client, 'securestack-controller', config.identity);
  const manager = new Manager({
    config,
    client,
    log,
    metrics,
    reconcilers: [new ImageScanReconciler(client, events, config)],
    secondaryWatches: [imageScanJobWatch],
  });
  const server = await startHttpServer({ port: config.metricsPort, host: config.bindAddress, registry: metrics.registry, health: manager });
  installSignalHandlers(manager, server, log);
  log.info({ identity: config.identity, namespace: config.namespace, workers: config.workers, metricsPort: boundPort(server) }, 'starting');
  await manager.start();
}

function installSignalHandlers(manager: Manager, server: Server, log: Logger): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    manager
      .shutdown()
      .then(() => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }))
      .then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`securestack: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
