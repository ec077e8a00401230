/**
 * Certificates and keys for the test control plane: a CA, the API server's serving
 * certificate (for 127.0.0.1 and localhost), and the service-account signing key pair.
 * openssl does the X.509 work (run with argument arrays); node's crypto makes the SA keys.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileP } from './proc.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
}

export async function ensurePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const pki: Pki = {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'apiserver.crt'),
    serverKey: join(dir, 'apiserver.key'),
    saKey: join(dir, 'sa.key'),
    saPub: join(dir, 'sa.pub'),
  };
  if (existsSync(pki.serverCert) && existsSync(pki.saPub)) return pki;

  await execFileP('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '3650',
    '-keyout',
    pki.caKey,
    '-out',
    pki.caCert,
    '-subj',
    '/CN=doris-testenv-ca',
  ]);
  const csr = join(dir, 'apiserver.csr');
  await execFileP('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', pki.serverKey, '-out', csr, '-subj', '/CN=kube-apiserver']);
  const ext = join(dir, 'apiserver.ext');
  writeFileSync(
    ext,
    'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' +
      'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  await execFileP('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-sha256',
    '-days',
    '3650',
    '-out',
    pki.serverCert,
    '-extfile',
    ext,
  ]);

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(pki.saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(pki.saPub, publicKey.export({ type: 'spki', format: 'pem' }));
  return pki;
}
