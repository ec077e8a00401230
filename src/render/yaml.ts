/**
 * Manifests are parsed the way kubectl parses them, so that a file means the same thing to
 * DORIS as it did when its author tested it with `kubectl apply`: YAML 1.1, where `0644` is
 * the octal number 420 (a Secret volume's `defaultMode`) and `yes`/`on` are booleans; like
 * kubectl (go-yaml v2), timestamps, base-60 values (`1:20`) and a lone `.` stay strings
 * (`scalars.ts`), and a `kind: List` stands for its items (`objects.ts`).
 *
 * It is stricter than kubectl where kubectl would send something nobody wrote: a file that is
 * not UTF-8, NaN or infinity, integers a JavaScript number cannot hold exactly.
 *
 * A repository is untrusted input to a controller that runs with cluster rights and a memory
 * limit, so parsing is bounded by limits rather than by luck (see `YamlLimits`): file size,
 * documents per file (a megabyte of bare `---` is a quarter of a million documents), nesting
 * depth (the parser recurses), alias expansions and the size a document reaches once its
 * aliases are expanded (a few lines of nested `*anchor`s can otherwise stand for gigabytes:
 * an alias bomb). A file beyond a limit is refused at the line where it went beyond it.
 *
 * Parsing never throws: every problem comes back as a `Problem` with the file, line and
 * column, so that the caller can report all of a repository's problems at once.
 */
import { Composer, CST, isAlias, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, Parser, type Document, type Node } from 'yaml';
import { describeObject } from '../kube/objectid.js';
import { findTooDeep } from './nesting.js';
import { objectsOf, type Position } from './objects.js';
import { makeProblem } from './problems.js';
import { kubectlTags } from './scalars.js';
import type { KubeObject, Problem } from './types.js';
import { decodeUtf8 } from './utf8.js';

export interface YamlLimits {
  /** Largest file accepted, in bytes (UTF-8); larger files are refused unparsed. Default 1 MiB. */
  maxFileBytes: number;
  /**
   * Most alias expansions per document (an anchored node and each `*alias` use of it, weighted
   * by the aliases nested inside); more is treated as an alias bomb. Default 100.
   */
  maxAliasCount: number;
  /** Most YAML documents in one file, empty ones included (each costs parsing). Default 1,000. */
  maxDocuments: number;
  /**
   * Most YAML nodes in one file (scalars, aliases, list items and flow collections, counted as
   * the file is read): parsing costs time and memory per node, and a 1 MiB list of `- 1`
   * lines is 260,000 of them. Default 100,000 (a 1 MiB CRD has about 50,000).
   */
  maxNodes: number;
  /**
   * Largest document once its aliases are expanded, in bytes of JSON (estimated from the
   * parsed values, without building it): what the API server would receive. Default 3 MiB,
   * the API server's own limit on a request body.
   */
  maxDocumentBytes: number;
  /**
   * Deepest nesting accepted, in levels as estimated before parsing (see `nesting.ts`):
   * half the indentation plus open indicators and brackets. Default 100.
   */
  maxDepth: number;
}

export function defaultYamlLimits(): YamlLimits {
  return {
    maxFileBytes: 1024 * 1024,
    maxAliasCount: 100,
    maxDocuments: 1000,
    maxNodes: 100_000,
    maxDocumentBytes: 3 * 1024 * 1024,
    maxDepth: 100,
  };
}

/** The limits as a string, for caches of parses (a parse depends on them). */
export function yamlLimitsKey(limits: YamlLimits): string {
  return (Object.keys(defaultYamlLimits()) as Array<keyof YamlLimits>).map((k) => limits[k]).join(',');
}

/** What is left of a commit-wide allowance when a file is parsed (see `RenderOptions`). */
export interface ParseBudget {
  /** Documents the rest of the commit may still hold. */
  documents: number;
  /** YAML nodes the rest of the commit may still hold. */
  nodes: number;
  /** Bytes (after alias expansion) the rest of the commit may still hold. */
  expandedBytes: number;
}

/** One Kubernetes object read from a file, with where its document (or List item) starts. */
export interface ParsedDocument {
  object: KubeObject;
  /** 1-based line and column of the document's first node. */
  line: number;
  col: number;
}

export interface ParsedFile {
  documents: ParsedDocument[];
  problems: Problem[];
  /** YAML documents read, empty ones included. */
  documentCount: number;
  /** YAML nodes read (see `YamlLimits.maxNodes`). */
  nodeCount: number;
  /** Estimated JSON size of the file's documents after alias expansion. */
  expandedBytes: number;
  /** Set when the commit-wide budget ran out in this file (the problem is among `problems`). */
  overBudget?: boolean;
}

/**
 * Parses one manifest file into Kubernetes objects; `file` is only used in problems. Bytes are
 * decoded as strict UTF-8; a string is taken as already decoded.
 */
export function parseManifests(input: string | Uint8Array, file: string, limits?: Partial<YamlLimits>, budget?: ParseBudget): ParsedFile {
  const opts: YamlLimits = { ...defaultYamlLimits(), ...definedOnly(limits ?? {}) };
  const result: ParsedFile = { documents: [], problems: [], documentCount: 0, nodeCount: 0, expandedBytes: 0 };
  const error = (message: string, at?: Partial<Position>): void => {
    result.problems.push(makeProblem('error', file, message, at?.line, at?.col));
  };

  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (size > opts.maxFileBytes) {
    error(`file is ${size} bytes, over the limit of ${opts.maxFileBytes} bytes; refused`);
    return result;
  }
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    const decoded = decodeUtf8(input);
    if (!('text' in decoded)) {
      const byte = input[decoded.offset]!.toString(16).padStart(2, '0');
      error(`file is not UTF-8: byte 0x${byte} at byte offset ${decoded.offset} is not valid UTF-8; refused`, decoded);
      return result;
    }
    text = decoded.text;
  }

  const deep = findTooDeep(text, opts.maxDepth);
  if (deep) {
    error(`nesting deeper than ${opts.maxDepth} levels; refused (Kubernetes objects nest a few dozen at most)`, deep);
    return result;
  }

  const lineCounter = new LineCounter();
  const locate = (offset: number): Position => lineCounter.linePos(offset);
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0);
  // Duplicate keys are found in `measure` instead: the package compares each key with every
  // earlier one, and a mapping of 50,000 keys then takes minutes.
  const composer = new Composer({ version: '1.1', customTags: kubectlTags, prettyErrors: false, uniqueKeys: false });
  /** Whether `count` passed the file's limit or the commit's budget (then reported); reading stops. */
  const overLimit = (count: number, fileLimit: number, budgetLimit: number | undefined, what: string, offset: number): boolean => {
    if (count > fileLimit) {
      error(`file has more than ${fileLimit} ${what}; refused (the rest is not read)`, locate(offset));
      return true;
    }
    if (budgetLimit !== undefined && count > budgetLimit) {
      result.overBudget = true;
      error(commitLimitMessage(what), locate(offset));
      return true;
    }
    return false;
  };
  /** Feeds the composer one CST token; `false` once reading must stop. */
  const compose = (token: CST.Token): boolean => {
    if (token.type === 'document') {
      result.documentCount++;
      if (overLimit(result.documentCount, opts.maxDocuments, budget?.documents, 'YAML documents', token.offset)) return false;
    }
    for (const doc of composer.next(token)) readDocument(doc, file, opts, budget, locate, result);
    return !result.overBudget;
  };
  try {
    // Lexing step by step (rather than `parseAllDocuments`) stops a file at a limit before
    // the rest of it costs anything.
    for (const lexeme of new Lexer().lex(text)) {
      if (NODE_LEXEMES.has(CST.tokenType(lexeme) ?? '')) {
        result.nodeCount++;
        if (overLimit(result.nodeCount, opts.maxNodes, budget?.nodes, 'YAML nodes', parser.offset)) return result;
      }
      for (const token of parser.next(lexeme)) if (!compose(token)) return result;
    }
    for (const token of parser.end()) if (!compose(token)) return result;
    for (const doc of composer.end(false, text.length)) readDocument(doc, file, opts, budget, locate, result);
  } catch (e) {
    // A backstop for nesting the estimate in `nesting.ts` missed: refuse, do not crash.
    if (e instanceof RangeError) error('nesting too deep for the YAML parser; refused');
    else error(`YAML parser failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return result;
}

/** Lexemes that each make one node: scalars, aliases, list items, flow collections. */
const NODE_LEXEMES = new Set([
  'scalar',
  'single-quoted-scalar',
  'double-quoted-scalar',
  'block-scalar-header',
  'alias',
  'seq-item-ind',
  'flow-map-start',
  'flow-seq-start',
]);

function commitLimitMessage(what: string): string {
  return `the commit holds more ${what} than its limit allows; refused (this file and later ones not read)`;
}

function readDocument(
  doc: Document.Parsed,
  file: string,
  opts: YamlLimits,
  budget: ParseBudget | undefined,
  locate: (offset: number) => Position,
  result: ParsedFile,
): void {
  const problem = (severity: Problem['severity'], message: string, at: Partial<Position>): void => {
    result.problems.push(makeProblem(severity, file, message, at.line, at.col));
  };
  if (doc.errors.length > 0) {
    // A bad value (`.nan`, an integer past 2^53) is an error of the document, found while
    // parsing; the object it belongs to is named when its kind and name could be read.
    const who = nameOf(doc);
    for (const e of doc.errors) problem('error', who ? `${who}: ${e.message}` : e.message, locate(e.pos[0]));
    return;
  }
  for (const w of doc.warnings) problem('warning', w.message, locate(w.pos[0]));

  const start = locate(doc.contents?.range[0] ?? doc.range[0]);
  const { bytes, duplicateKey } = measure(doc, opts.maxDocumentBytes + 1);
  if (duplicateKey) {
    problem('error', 'Map keys must be unique', locate(duplicateKey.range?.[0] ?? doc.range[0]));
    return;
  }
  if (bytes > opts.maxDocumentBytes) {
    problem(
      'error',
      `document is over ${opts.maxDocumentBytes} bytes once its aliases are expanded; refused (the API server takes at most ${opts.maxDocumentBytes})`,
      start,
    );
    return;
  }
  result.expandedBytes += bytes;
  if (budget && result.expandedBytes > budget.expandedBytes) {
    result.overBudget = true;
    problem('error', commitLimitMessage('bytes (after alias expansion)'), start);
    return;
  }

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: opts.maxAliasCount });
  } catch (e) {
    // The yaml package throws (rather than reports) excessive and unresolved aliases.
    const reason = e instanceof Error ? e.message : String(e);
    const message = /alias count/i.test(reason) ? `too many alias expansions (over ${opts.maxAliasCount}): refused as a possible alias bomb` : reason;
    problem('error', message, start);
    return;
  }
  // Empty and comment-only documents (and an explicit `null`) hold no object.
  if (value === null || value === undefined) return;
  // Aliases make shared JS objects, and the parser builds long strings a character at a time
  // (a 1 MiB string then holds 32 MiB until it is flattened): a plain JSON copy of each
  // document is an object tree of its own, with flat strings. Its size is bounded above.
  const detached: unknown = JSON.parse(JSON.stringify(value));

  const found = objectsOf(detached, doc.contents, start, locate);
  for (const p of found.problems) problem(p.severity, p.message, p);
  for (const o of found.objects) result.documents.push({ object: o.object, line: o.line, col: o.col });
}

/** `Kind namespace/name` of a document that failed to parse, when those fields are readable. */
function nameOf(doc: Document.Parsed): string | undefined {
  try {
    const kind = doc.get('kind');
    const name = doc.getIn(['metadata', 'name']);
    const namespace = doc.getIn(['metadata', 'namespace']);
    if (typeof kind !== 'string' || typeof name !== 'string') return undefined;
    return describeObject({ kind, metadata: { name, namespace: typeof namespace === 'string' ? namespace : undefined } });
  } catch {
    return undefined;
  }
}

/**
 * The JSON size of a document with its aliases expanded, counted on the AST without expanding
 * anything (each node once; an alias costs what its anchor costs; counting stops past `cap`),
 * and the first key that repeats one before it in the same mapping, if any.
 */
function measure(doc: Document.Parsed, cap: number): { bytes: number; duplicateKey?: Node } {
  const sizes = new Map<Node, number>();
  let duplicateKey: Node | undefined;
  const sizeOf = (node: unknown): number => {
    if (node === null || node === undefined) return 4;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return target ? (sizes.get(target) ?? sizeOf(target)) : 4;
    }
    let size: number;
    if (isScalar(node)) {
      const v = node.value;
      size = (typeof v === 'string' ? v.length + 2 : String(v).length) + 1;
    } else if (isMap(node) || isSeq(node)) {
      size = 2;
      const keys = new Set<unknown>();
      for (const item of node.items as unknown[]) {
        if (isPair(item)) {
          if (isScalar(item.key) && item.key.value !== '<<') {
            if (keys.has(item.key.value)) duplicateKey ??= item.key;
            keys.add(item.key.value);
          }
          size += sizeOf(item.key) + sizeOf(item.value) + 1;
        } else {
          size += sizeOf(item);
        }
        if (size > cap) break;
      }
    } else {
      size = 4;
    }
    sizes.set(node as Node, size);
    return size;
  };
  const bytes = sizeOf(doc.contents);
  return duplicateKey ? { bytes, duplicateKey } : { bytes };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
