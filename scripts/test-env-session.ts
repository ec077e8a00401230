/**
 * The frame of a script that runs `doris run` against the local test environment: the
 * environment brought up when it is down (and taken down again afterwards), and at the end,
 * whatever happened, the controller stopped, the script's namespaces deleted and DORIS's
 * install in `ns` removed.
 */
import { existsSync } from 'node:fs';
import { KubeHttp } from '../src/kube/http.js';
import type { startController } from '../test/env/doris.js';
import { removeInstall } from '../test/env/identity.js';
import { down, up } from '../test/env/lifecycle.js';
import { envFile, stateFile } from '../test/env/paths.js';
import { loadTestEnv, type TestEnv } from '../test/env/testenv.js';

export interface Session {
  env: TestEnv;
  api: KubeHttp;
  /** Set by the script once started, so that the end stops it. */
  controller?: ReturnType<typeof startController>;
  /** Set by the script once made, so that the end removes the install made with it. */
  kubeconfig?: string;
}

export async function withTestEnv(ns: string, namespaces: string[], run: (session: Session) => Promise<void>): Promise<void> {
  const wasUp = existsSync(stateFile) && existsSync(envFile);
  await up();
  const env = loadTestEnv();
  const api = await KubeHttp.fromKubeconfigFile(env.KUBECONFIG);
  const session: Session = { env, api };
  try {
    await run(session);
  } finally {
    await session.controller?.stop();
    for (const n of namespaces) await api.request('DELETE', `/api/v1/namespaces/${n}`, { accept: [404] }).catch(() => undefined);
    await removeInstall(api, ns, session.kubeconfig).catch(() => undefined);
    api.close();
    if (!wasUp) await down();
  }
}
