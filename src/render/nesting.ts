/**
 * The YAML parser recurses once per nesting level, and a few hundred levels (`[[[[…`, or
 * `- - - - …` on one line) exhaust the stack: one small file would crash the process that
 * reads it, or take seconds of CPU before failing. Kubernetes objects nest a few dozen levels
 * at most. So, before parsing, a cheap line scan estimates how deep each line nests and
 * refuses a file beyond a limit, naming the line.
 *
 * The estimate never undercounts what the parser will see: half the indentation (two spaces
 * per level is the usual style; more indentation only overestimates), plus the block
 * indicators on the line (`- `, `? `, `: ` outside flow collections), plus the open `[`/`{`
 * of flow collections.
 * Block scalar content (`|`, `>`), quoted strings and comments do not nest and are not counted.
 */

/** Where a file first nests deeper than `maxDepth` (1-based line and column), if it does. */
export function findTooDeep(text: string, maxDepth: number): { line: number; col: number } | undefined {
  let flow = 0;
  /** The quote character of a quoted scalar still open at the end of a line. */
  let quote: '' | '"' | "'" = '';
  /** Indentation of the line that opened a block scalar, or -1 outside one. */
  let blockScalarParent = -1;
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    line++;
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let i = start;
    while (i < end && text.charCodeAt(i) === 0x20) i++;
    const indent = i - start;
    const rest = text.slice(i, end);
    start = end + 1;
    const quotedAtStart = quote !== '';
    if (!quotedAtStart && (rest.trim() === '' || rest.startsWith('#'))) continue;
    if (blockScalarParent >= 0) {
      if (indent > blockScalarParent || rest.trim() === '') continue;
      blockScalarParent = -1;
    }
    if (indent === 0 && /^(?:---|\.\.\.)(?:\s|$)/.test(rest)) {
      flow = 0;
      quote = '';
    }
    let depth = Math.ceil(indent / 2) + flow;
    /** The last character of the line outside spaces and quotes ('' at its start). */
    let last = '';
    for (let k = 0; k < rest.length; k++) {
      const c = rest[k]!;
      const before = k === 0 ? ' ' : rest[k - 1]!;
      if (quote === '' && c !== ' ' && c !== '\t') {
        // Decided before `c` is taken in: whether what came last lets a value start here.
        const startsValue = last === '' || '-?:[{,'.includes(last);
        last = c;
        if ((c === '"' || c === "'") && startsValue) {
          quote = c;
          continue;
        }
      }
      if (quote !== '') {
        if (quote === '"' && c === '\\') k++;
        else if (c === quote) {
          if (quote === "'" && rest[k + 1] === "'") k++;
          else quote = '';
        }
        continue;
      }
      if (c === '#' && (before === ' ' || before === '\t')) {
        break;
      } else if (c === '[' || c === '{') {
        flow++;
        depth++;
      } else if (c === ']' || c === '}') {
        if (flow > 0) {
          flow--;
          depth--;
        }
      } else if (flow === 0 && (c === '-' || c === '?' || c === ':') && (c === ':' || before === ' ' || before === '\t')) {
        // Block indicators; inside a flow collection, `key: value` pairs do not nest.
        const next = rest[k + 1];
        if (next === undefined || next === ' ' || next === '\t' || next === '\r') depth++;
      }
      if (depth > maxDepth) return { line, col: indent + k + 1 };
    }
    if (depth > maxDepth) return { line, col: indent + 1 };
    if (!quotedAtStart && quote === '' && BLOCK_SCALAR_HEADER.test(rest)) blockScalarParent = indent;
  }
  return undefined;
}

const BLOCK_SCALAR_HEADER = /(?:^|[\s:-])[|>][-+0-9]*\s*(?:#.*)?\r?$/;
