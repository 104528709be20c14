// An in-memory stand-in for the ConfigMap calls of KubeClient, for the SBOM and result stores in
// tests and benchmarks that need no control plane. Objects go in and out as JSON, as through the
// API server, so a caller cannot share memory with what is "stored"; writes are counted.
import { KubeApiError, type ConfigMap } from '../../operator/kube/client';
import type { SbomClient } from '../../operator/scan/sbom-store';

export class FakeConfigMaps implements SbomClient {
  readonly objects = new Map<string, string>();
  /** create and replace calls that stored an object. */
  writes = 0;

  getConfigMap(namespace: string, name: string): Promise<ConfigMap | undefined> {
    const found = this.objects.get(`${namespace}/${name}`);
    return Promise.resolve(found === undefined ? undefined : (JSON.parse(found) as ConfigMap));
  }

  /** Equality selectors only (`k=v,k2=v2`), which is all the stores use. */
  listConfigMaps(namespace: string, labelSelector: string): Promise<ConfigMap[]> {
    const wanted = labelSelector.split(',').filter(Boolean).map((term) => term.split('='));
    const all = [...this.objects.entries()].filter(([key]) => key.startsWith(`${namespace}/`)).map(([, json]) => JSON.parse(json) as ConfigMap);
    return Promise.resolve(all.filter((object) => wanted.every(([k = '', v]) => object.metadata?.labels?.[k] === v)));
  }

  createConfigMap(namespace: string, configMap: ConfigMap): Promise<ConfigMap> {
    const key = `${namespace}/${configMap.metadata?.name ?? ''}`;
    if (this.objects.has(key)) return Promise.reject(new KubeApiError('create configmaps', 409, 'already exists', 'AlreadyExists'));
    return Promise.resolve(this.put(key, configMap));
  }

  replaceConfigMap(namespace: string, configMap: ConfigMap): Promise<ConfigMap> {
    const key = `${namespace}/${configMap.metadata?.name ?? ''}`;
    if (!this.objects.has(key)) return Promise.reject(new KubeApiError('replace configmaps', 404, 'not found'));
    return Promise.resolve(this.put(key, configMap));
  }

  deleteConfigMap(namespace: string, name: string): Promise<boolean> {
    return Promise.resolve(this.objects.delete(`${namespace}/${name}`));
  }

  /** The gzip bytes of an SBOM as stored: the parts' binaryData, decoded and joined in order. */
  storedGzip(namespace: string, base: string, parts: number): Buffer {
    const chunks: Buffer[] = [];
    for (let i = 0; i < parts; i++) {
      const json = this.objects.get(`${namespace}/${i === 0 ? base : `${base}-${i}`}`);
      if (json === undefined) throw new Error(`part ${i} of ${base} is missing`);
      const data = (JSON.parse(json) as ConfigMap).binaryData?.['sbom.cdx.json.gz'];
      chunks.push(Buffer.from(data ?? '', 'base64'));
    }
    return Buffer.concat(chunks);
  }

  private put(key: string, configMap: ConfigMap): ConfigMap {
    const json = JSON.stringify(configMap);
    this.objects.set(key, json);
    this.writes++;
    return JSON.parse(json) as ConfigMap;
  }
}
