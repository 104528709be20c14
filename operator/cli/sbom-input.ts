/**
 * The SBOMs `securestack sbom diff` compares: a CycloneDX JSON file (gzip or not), `-` for stdin,
 * or the stored SBOM of an ImageScan (`imagescan/NAME`, `imagescan/NAMESPACE/NAME`). Sizes are
 * bounded by the operator's own upload limits (report.ts), and documents are checked by the same
 * parser the operator runs on scan reports, so a file the operator would refuse is refused here,
 * with the file named and what is wrong.
 */
import { stat, readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, inflateReport, isTooLarge, MAX_COMPRESSED_BYTES, parseReport, readCompressedBody, ReportError } from '../features/scan/report';
import { UsageError, type Parsed } from './command';
import type { GzipCodec } from '../features/scan/sbom-store';
import type { KubeClient } from '../platform/kube/client';

export interface SbomInput {
  /** As named on the command line, an ImageScan with its namespace. */
  source: string;
  /** The parsed, schema-checked CycloneDX document. */
  bom: Record<string, unknown>;
  /** The scanned image (metadata.component's name), when the SBOM names it. */
  image?: string;
}

/** Every CycloneDX version whose JSON schema the library's validator has (JSON starts at 1.2). */
const specVersions = ['1.2', '1.3', '1.4', '1.5', '1.6', '1.7'];

const imageScanArg = /^imagescans?(?:\.securestack\.io)?\/(?:([^/]+)\/)?([^/]+)$/i;

export function isImageScanArg(arg: string): boolean {
  return imageScanArg.test(arg);
}

/**
 * An SBOM that cannot be read or used: exit 2, said with the input's name and without the hint to
 * --help a mistake in the command line gets.
 */
export class InputError extends Error {}

async function fileBytes(file: string): Promise<Buffer> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  if (!info.isFile()) throw new InputError(`${file}: not a file`);
  if (info.size > DEFAULT_MAX_DECOMPRESSED_BYTES) throw new InputError(`${file}: ${info.size} bytes, more than the ${DEFAULT_MAX_DECOMPRESSED_BYTES}-byte limit for an SBOM`);
  return readFile(file);
}

const isGzip = (bytes: Uint8Array): boolean => bytes[0] === 0x1f && bytes[1] === 0x8b;

/** JSON or its gzip (told by its first bytes, whatever the file is called) to a checked CycloneDX document. */
export async function parseSbom(source: string, bytes: Buffer): Promise<SbomInput> {
  try {
    if (isGzip(bytes) && bytes.length > MAX_COMPRESSED_BYTES) throw new InputError(`${source}: ${bytes.length} bytes of gzip, more than the ${MAX_COMPRESSED_BYTES}-byte limit for an SBOM`);
    const json = isGzip(bytes) ? inflateReport(bytes, DEFAULT_MAX_DECOMPRESSED_BYTES) : bytes;
    const { bom } = await parseReport(json, { specVersions });
    const metadata = bom.metadata as { component?: { name?: unknown } } | undefined;
    const image = metadata?.component?.name;
    return { source, bom, ...(typeof image === 'string' && image !== '' ? { image } : {}) };
  } catch (err) {
    if (isTooLarge(err)) throw new InputError(`${source}: more than ${err.limitBytes} bytes${err.which === 'decompressed' ? ' once decompressed' : ''}, the limit for an SBOM`);
    // ValidatorUnavailable is the installation's fault, not the file's: said as it is.
    if (err instanceof ReportError) throw new InputError(err.reason === 'InvalidReport' ? `${source}: not a usable CycloneDX JSON document: ${err.detail}` : `${source}: ${err.message}`);
    throw err;
  }
}

/** The SBOM stored for an ImageScan, through the operator's own client and reader. */
async function imageScanBytes(client: KubeClient, namespace: string, name: string): Promise<{ source: string; bytes: Buffer }> {
  const [{ imageScanType }, { asyncGzipCodec, readSbom }] = await Promise.all([import('../api/resources'), import('../features/scan/sbom-store')]);
  const source = `imagescan/${namespace}/${name}`;
  type Scan = { metadata?: { name?: string }; status?: { phase?: string; sbomRef?: { name: string; parts?: number } } };
  const scan = await client.getCustom<Scan>(imageScanType, { namespace, name }).catch((err: unknown) => {
    throw new Error(`${source}: reading it from ${client.access.source}: ${err instanceof Error ? err.message : String(err)}`);
  });
  if (!scan) throw new InputError(`${source}: no such ImageScan in namespace "${namespace}" (${client.access.source})`);
  const ref = scan.status?.sbomRef;
  if (!ref?.name) {
    const phase = scan.status?.phase ?? 'none';
    throw new InputError(`${source}: the ImageScan has no SBOM yet (phase ${phase})${phase === 'Failed' ? '' : '; wait until it is Completed'}`);
  }
  // The store bounds inflating by the size recorded in the ConfigMap; this bounds it by ours too.
  const bounded: GzipCodec = { gzip: (data) => asyncGzipCodec.gzip(data), gunzip: (data, max) => asyncGzipCodec.gunzip(data, Math.min(max, DEFAULT_MAX_DECOMPRESSED_BYTES)) };
  const bytes = await readSbom(client, namespace, ref, bounded).catch((err: unknown) => {
    throw new InputError(`${source}: reading its SBOM (${ref.name}): ${err instanceof Error ? err.message : String(err)}`);
  });
  return { source, bytes };
}

/** Reads the SBOMs named on the command line, in order; the cluster client is made only when one is an ImageScan. */
export async function readSbomInputs(args: readonly string[], parsed: Parsed, stdin: Readable = process.stdin): Promise<SbomInput[]> {
  if (args.filter((arg) => arg === '-').length > 1) throw new UsageError('only one of the SBOMs can be - (stdin)');
  let cluster: { client: KubeClient; namespace: string } | undefined;
  const clusterOnce = async (): Promise<{ client: KubeClient; namespace: string }> => {
    if (!cluster) {
      const { clusterClient, kubeContext } = await import('./cluster');
      cluster = { client: clusterClient(parsed), namespace: parsed.optional('namespace') ?? kubeContext(parsed).namespace };
    }
    return cluster;
  };
  const inputs: SbomInput[] = [];
  for (const arg of args) {
    const scan = imageScanArg.exec(arg);
    if (scan) {
      const { client, namespace } = await clusterOnce();
      const read = await imageScanBytes(client, scan[1] ?? namespace, scan[2] ?? '');
      inputs.push(await parseSbom(read.source, read.bytes));
    } else if (arg === '-') {
      // The operator's bounded reader of uploads; any stream will do.
      const bytes = await readCompressedBody(stdin, DEFAULT_MAX_DECOMPRESSED_BYTES).catch((err: unknown) => {
        throw isTooLarge(err) ? new InputError(`stdin: more than ${err.limitBytes} bytes, the limit for an SBOM`) : err;
      });
      inputs.push(await parseSbom('stdin', bytes));
    } else {
      inputs.push(await parseSbom(arg, await fileBytes(arg)));
    }
  }
  return inputs;
}
