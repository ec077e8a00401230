/**
 * SOPS-encrypted manifests (docs/adr/0011-sops.md). A step file whose YAML carries SOPS
 * metadata (a top-level `sops:` mapping with a `mac`) is decrypted in memory with the age key
 * of the Pipeline's `spec.decryption.secretRef` (key `age.agekey`, as Flux names it), by the
 * real `sops` binary: the ciphertext goes in on stdin, the key in the environment
 * (`SOPS_AGE_KEY`, never argv), the plaintext comes out on stdout and is parsed like any other
 * file. sops verifies the file's MAC (DORIS never passes `--ignore-mac`): a tampered file is
 * refused, naming it.
 *
 * The plaintext never reaches the disk, and is kept out of every message: the values that
 * were encrypted are collected (`encryptedValues`) and masked in any problem reported
 * against the file (`maskValues`). Without a key the render fails naming the file, so nothing
 * of the commit is applied; `doris validate` (offline, no key) recognises such files and says
 * they were not decrypted instead of reporting their ciphertext as broken manifests.
 */
import { execFile } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { printable } from './problems.js';

export interface SopsOptions {
  /** The `sops` executable: a path, or a name looked up on PATH. */
  binary: string;
  /** The age identity (`AGE-SECRET-KEY-1...`, one or more lines); undefined: no key. */
  ageKey?: string;
  /** How long one decryption may run. Default 30 s. */
  timeoutMs: number;
}

/** The executable: `DORIS_SOPS_PATH` (what `--sops-path` sets), else `sops` on PATH. */
export function sopsBinary(): string {
  return process.env.DORIS_SOPS_PATH || 'sops';
}

export function defaultSopsOptions(ageKey?: string): SopsOptions {
  return { binary: sopsBinary(), ageKey, timeoutMs: 30_000 };
}

/** The Secret key holding the age identity (Flux's name for it). */
export const ageKeySecretKey = 'age.agekey';

const TOP_LEVEL_SOPS = /^sops:[ \t]*(?:#.*)?\r?$/m;

/** Whether a YAML file's text carries SOPS metadata (a top-level `sops:` key). */
export function looksEncrypted(text: string): boolean {
  return TOP_LEVEL_SOPS.test(text);
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Why DORIS cannot decrypt a file carrying SOPS metadata before even trying (undefined: it
 * can try): metadata without a MAC, or no age recipient (PGP, KMS and Vault are not supported:
 * they would need credentials and network access of their own).
 */
export function unsupportedSops(text: string): string | undefined {
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text);
  } catch {
    return 'SOPS file is not valid YAML';
  }
  if (!Array.isArray(docs)) return 'SOPS file is not valid YAML';
  for (const doc of docs) {
    if (doc.errors.length > 0) return 'SOPS file is not valid YAML';
    const sops = asRecord(asRecord(doc.toJS({ maxAliasCount: 100 }))?.sops);
    if (!sops) continue;
    if (typeof sops.mac !== 'string' || sops.mac === '') return 'SOPS metadata has no MAC; refused (the file cannot be verified)';
    const age = sops.age;
    if (!Array.isArray(age) || age.length === 0) {
      const kinds = ['pgp', 'kms', 'gcp_kms', 'azure_kv', 'hc_vault', 'key_groups'].filter((k) => sops[k] !== undefined && sops[k] !== null);
      return `SOPS file is not encrypted for an age recipient${kinds.length ? ` (it uses ${kinds.join(', ')})` : ''}; DORIS decrypts age only`;
    }
  }
  return undefined;
}

/** The plaintext values of the leaves that were encrypted (`ENC[...]` in the ciphertext), for masking. */
export function encryptedValues(ciphertext: string, plaintext: string): string[] {
  const found = new Set<string>();
  const walk = (cipher: unknown, plain: unknown): void => {
    if (typeof cipher === 'string') {
      if (cipher.startsWith('ENC[') && plain !== undefined && plain !== null && typeof plain !== 'object') found.add(String(plain));
      return;
    }
    if (Array.isArray(cipher)) {
      if (Array.isArray(plain)) for (const [i, c] of cipher.entries()) walk(c, plain[i]);
      return;
    }
    const c = asRecord(cipher);
    const p = asRecord(plain);
    if (!c || !p) return;
    for (const key of Object.keys(c)) if (key !== 'sops') walk(c[key], p[key]);
  };
  try {
    const cipherDocs = parseAllDocuments(ciphertext);
    const plainDocs = parseAllDocuments(plaintext);
    if (!Array.isArray(cipherDocs) || !Array.isArray(plainDocs)) return [];
    for (const [i, doc] of cipherDocs.entries()) walk(doc.toJS({ maxAliasCount: 100 }), plainDocs[i]?.toJS({ maxAliasCount: 100 }));
  } catch {
    // Masking is a second line of defence; a document that does not parse yields no values.
  }
  // Longest first, so that a value containing another is masked whole.
  return [...found].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
}

/** `text` with every one of `values` replaced by `***`. */
export function maskValues(text: string, values: readonly string[]): string {
  let masked = text;
  for (const value of values) masked = masked.split(value).join('***');
  return masked;
}

const AGE_SECRET_KEY = /AGE-SECRET-KEY-1[0-9A-Z]+/gi;

/** sops's message, short, printable, and never holding a key. */
function cleanMessage(text: string): string {
  const lines = text
    .replace(AGE_SECRET_KEY, '***')
    .split('\n')
    .map((l) => l.trim().replace(/^\|\s*/, ''))
    .filter(Boolean);
  const joined = lines.join(' ');
  return printable(joined.length > 600 ? `${joined.slice(0, 600)}...` : joined);
}

export type DecryptResult = { ok: true; plaintext: Buffer } | { ok: false; message: string };

/** Decrypts one SOPS YAML file with `sops decrypt`, stdin to stdout. Never throws. */
export function decryptSops(ciphertext: Uint8Array, options: SopsOptions): Promise<DecryptResult> {
  if (!options.ageKey) return Promise.resolve({ ok: false, message: 'no age key' });
  return new Promise((resolve) => {
    const child = execFile(
      options.binary,
      ['decrypt', '--input-type', 'yaml', '--output-type', 'yaml'],
      {
        // Only the key: no HOME (sops would look for ~/.ssh keys and ~/.config/sops/age/keys.txt),
        // no PATH (no gpg), none of DORIS's own credentials, and no *_CMD variables.
        env: { SOPS_AGE_KEY: options.ageKey, HOME: '/nonexistent', XDG_CONFIG_HOME: '/nonexistent' },
        cwd: '/',
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        // The plaintext is no larger than the ciphertext, which the render already bounds.
        maxBuffer: Math.max(1024 * 1024, ciphertext.byteLength * 2),
        encoding: 'buffer',
        windowsHide: true,
      },
      (error, stdout, stderr) => {
        if (!error) return resolve({ ok: true, plaintext: stdout });
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          return resolve({
            ok: false,
            message: `sops is not installed: ${JSON.stringify(options.binary)} was not found (put sops on PATH, or give --sops-path or DORIS_SOPS_PATH)`,
          });
        }
        if ((error as { killed?: boolean }).killed) return resolve({ ok: false, message: 'sops did not finish in time; stopped' });
        resolve({ ok: false, message: cleanMessage(stderr.toString('utf8')) || `sops failed with exit code ${String(code)}` });
      },
    );
    child.stdin?.on('error', () => {
      // sops may exit before reading everything (a bad header): its exit status says why.
    });
    child.stdin?.end(ciphertext);
  });
}
