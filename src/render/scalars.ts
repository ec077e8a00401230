/**
 * Which unquoted values are numbers is decided here, the way kubectl decides it: kubectl reads
 * YAML with go-yaml v2, which tries, for a plain scalar starting with a digit, a sign or a dot,
 * Go's `strconv.ParseInt(s, 0, 64)` (with `_` removed: `0644` octal, `0x1F`, `0o17`, `0b101`),
 * then its unsigned form, then a decimal float (`1.5`, `1e3`, `.5`); anything else stays a
 * string — a lone `.`, `-`, `1-2`, `10:30`, `2024-01-31`. The `yaml` package's YAML 1.1 schema
 * differs at the edges (it reads `.` as NaN, `1:20` as 80), so its number tags are replaced by
 * these.
 *
 * Two kinds of numbers kubectl would send but DORIS refuses, with the value's line and column:
 * NaN and infinity (`.nan`, `.inf`, `-.inf`: JSON cannot carry them, and a field that needs a
 * number would get garbage), and integers beyond 2^53, which a JavaScript number cannot hold
 * exactly (kubectl keeps them exact; a port or a byte count silently rounded is worse than a
 * refusal). Quoting either makes it a string.
 */
import type { ScalarTag, Tags } from 'yaml';

const NOT_A_NUMBER = /^\.(?:nan|NaN|NAN)$/;
const INFINITY = /^[-+]?\.(?:inf|Inf|INF)$/;
/** Go's `ParseInt(s, 0, 64)` syntax (after `_` is removed). */
const GO_INT = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
/** go-yaml v2's `yamlStyleFloat`. */
const GO_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
/** For a value starting with `.`, go-yaml tries `ParseFloat` on the value as written. */
const DOT_FLOAT = /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/;

/** The exact value of a Go integer literal (see `GO_INT`). */
function goInteger(plain: string): bigint {
  const negative = plain.startsWith('-');
  const unsigned = plain.replace(/^[-+]/, '');
  const digits = /^0[0-7]+$/.test(unsigned) ? `0o${unsigned.slice(1)}` : unsigned;
  const value = BigInt(digits.replace(/^0([XOB])/, (_, p: string) => `0${p.toLowerCase()}`));
  return negative ? -value : value;
}

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Resolves a plain scalar that starts like a number: a number where go-yaml v2 reads one,
 * otherwise the string as written. NaN, infinity and inexact integers are reported through
 * `onError` (which makes the document an error).
 */
export function resolvePlainNumber(source: string, onError: (message: string) => void): number | string {
  if (NOT_A_NUMBER.test(source) || INFINITY.test(source)) {
    onError(`${source} is not a number Kubernetes can take (NaN and infinity have no JSON form); quote it if it is a string`);
    return source;
  }
  if (source.startsWith('.')) return DOT_FLOAT.test(source) ? Number(source) : source;
  const plain = source.replaceAll('_', '');
  if (GO_INT.test(plain)) {
    const value = goInteger(plain);
    if (value > MAX_EXACT || value < -MAX_EXACT) {
      onError(`integer ${source} is beyond 2^53 (${Number.MAX_SAFE_INTEGER}) and cannot be kept exact; quote it if it is a string`);
      return source;
    }
    return Number(value);
  }
  if (GO_FLOAT.test(plain)) {
    const value = Number(plain);
    // Go's ParseFloat fails on overflow (`1e400`), and go-yaml then keeps the string.
    return Number.isFinite(value) ? value : source;
  }
  return source;
}

/** Anything go-yaml v2 might read as a number starts with a digit, a sign or a dot. */
const NUMBER_LIKE = /^[-+.0-9]/;

const goInt: ScalarTag = {
  identify: (value) => typeof value === 'number' && Number.isInteger(value),
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: NUMBER_LIKE,
  resolve: (source, onError) => resolvePlainNumber(source, onError),
};

/** `!!float` written out: same reading (only reached through an explicit tag). */
const goFloat: ScalarTag = {
  identify: (value) => typeof value === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: NUMBER_LIKE,
  resolve: (source, onError) => resolvePlainNumber(source, onError),
};

/**
 * The YAML 1.1 schema as kubectl reads it: numbers as above; no timestamps (go-yaml v2 keeps
 * them strings when decoding into plain data, as kubectl does).
 */
export function kubectlTags(tags: Tags): Tags {
  const dropped = new Set(['tag:yaml.org,2002:int', 'tag:yaml.org,2002:float', 'tag:yaml.org,2002:timestamp']);
  const kept = tags.filter((tag) => typeof tag === 'string' || !dropped.has(tag.tag));
  // Before the string tag's fallback, after null and booleans (which start with other letters).
  return [...kept, goInt, goFloat];
}
