/**
 * Manifests are parsed the way kubectl parses them, so that a file means the same thing to
 * DORIS as it did when its author tested it with `kubectl apply`: YAML 1.1, where `0644` is
 * the octal number 420 (a Secret volume's `defaultMode`) and `yes`/`on` are booleans. Like
 * kubectl (go-yaml v2), timestamps and sexagesimal numbers (`1:20`) stay strings.
 *
 * A repository is untrusted input to a controller that runs with cluster rights, so parsing
 * is bounded: files over a size limit are refused before parsing, and alias expansion is
 * capped (a few lines of nested `*anchor`s can otherwise expand to gigabytes: an alias
 * bomb).
 *
 * Parsing never throws: every problem comes back as a `Problem` with the file, line and
 * column, so that the caller can report all of a repository's problems at once.
 */
import { LineCounter, parseAllDocuments, type Document, type Tags } from 'yaml';
import { makeProblem } from './problems.js';
import type { KubeObject, Problem } from './types.js';

export interface YamlLimits {
  /** Largest file accepted, in bytes (UTF-8); larger files are refused unparsed. */
  maxFileBytes: number;
  /**
   * Most alias expansions per document (an anchored node and each `*alias` use of it, weighted
   * by the aliases nested inside); more is treated as an alias bomb.
   */
  maxAliasCount: number;
}

export function defaultYamlLimits(): YamlLimits {
  return { maxFileBytes: 1024 * 1024, maxAliasCount: 100 };
}

/** One Kubernetes object read from a file, with where its document starts. */
export interface ParsedDocument {
  object: KubeObject;
  /** 1-based line and column of the document's first node. */
  line: number;
  col: number;
}

export interface ParsedFile {
  documents: ParsedDocument[];
  problems: Problem[];
}

/** go-yaml v2 (kubectl) resolves neither timestamps nor base-60 numbers: keep them strings. */
function kubectlTags(tags: Tags): Tags {
  return tags.filter(
    (tag) =>
      typeof tag === 'string' ||
      !(tag.tag === 'tag:yaml.org,2002:timestamp' || ('format' in tag && tag.format === 'TIME')),
  );
}

/** Parses one manifest file into Kubernetes objects; `file` is only used in problems. */
export function parseManifests(text: string, file: string, limits?: Partial<YamlLimits>): ParsedFile {
  const { maxFileBytes, maxAliasCount } = { ...defaultYamlLimits(), ...limits };
  const problems: Problem[] = [];
  const documents: ParsedDocument[] = [];
  const error = (message: string, line?: number, col?: number): void => {
    problems.push(makeProblem('error', file, message, line, col));
  };

  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxFileBytes) {
    error(`file is ${size} bytes, over the limit of ${maxFileBytes} bytes; refused`);
    return { documents, problems };
  }

  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, {
    version: '1.1',
    customTags: kubectlTags,
    lineCounter,
    prettyErrors: false,
  });
  for (const doc of parsed as Document.Parsed[]) {
    const at = (offset: number | undefined): { line?: number; col?: number } =>
      offset === undefined ? {} : lineCounter.linePos(offset);

    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const { line, col } = at(e.pos[0]);
        error(e.message, line, col);
      }
      continue;
    }
    for (const w of doc.warnings) {
      const { line, col } = at(w.pos[0]);
      problems.push(makeProblem('warning', file, w.message, line, col));
    }

    const start = at(doc.contents?.range[0] ?? doc.range[0]);
    const line = start.line ?? 1;
    const col = start.col ?? 1;

    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (e) {
      // The yaml package throws (rather than reports) excessive and unresolved aliases.
      const reason = e instanceof Error ? e.message : String(e);
      const message = /alias count/i.test(reason)
        ? `too many alias expansions (over ${maxAliasCount}): refused as a possible alias bomb`
        : reason;
      error(message, line, col);
      continue;
    }

    // Empty and comment-only documents (and an explicit `null`) hold no object.
    if (value === null || value === undefined) continue;

    const invalid = checkObject(value);
    if (invalid) {
      error(invalid, line, col);
      continue;
    }
    documents.push({ object: value as KubeObject, line, col });
  }
  return { documents, problems };
}

function describeType(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

/** Why a document is not a Kubernetes object, or `undefined` if it is one. */
function checkObject(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `document is ${describeType(value)}, not a mapping; every document must be a Kubernetes object`;
  }
  const obj = value as Record<string, unknown>;
  const metadata = obj['metadata'];
  const meta =
    typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
      ? (metadata as Record<string, unknown>)
      : undefined;
  const missing: string[] = [];
  if (!isNonEmptyString(obj['apiVersion'])) missing.push('apiVersion');
  if (!isNonEmptyString(obj['kind'])) missing.push('kind');
  if (!isNonEmptyString(meta?.['name'])) missing.push('metadata.name');
  if (missing.length > 0) {
    const name = isNonEmptyString(meta?.['name']) ? ` "${meta['name']}"` : '';
    const needs = 'every object needs a string apiVersion, kind and metadata.name';
    return `object${name} has no ${missing.join(', ')}; ${needs}`;
  }
  const namespace = meta?.['namespace'];
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    return `metadata.namespace must be a string, not ${describeType(namespace)}`;
  }
  return undefined;
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
