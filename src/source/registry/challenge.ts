/**
 * `WWW-Authenticate` challenges: how a registry says which authentication it wants.
 *
 *   Basic realm="Registry Realm"
 *   Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:acme/app:pull"
 *
 * A header may carry several challenges (`Basic realm="a", Bearer realm="b"`), parameters
 * may be quoted (with `\` escapes) or bare tokens, and scheme and parameter names are
 * case-insensitive (RFC 9110 §11.6.1). Parsing never throws: what cannot be read is skipped.
 */

export interface Challenge {
  /** Lower-cased scheme: `basic`, `bearer`, … */
  scheme: string;
  /** Parameters by lower-cased name: `realm`, `service`, `scope`, `error`. */
  params: Record<string, string>;
}

const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  const n = header.length;
  let i = 0;
  const skipSpaces = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i += 1;
  };
  const readToken = (): string => {
    const match = tokenPattern.exec(header.slice(i));
    if (!match) return '';
    i += match[0].length;
    return match[0];
  };
  const readQuoted = (): string => {
    let value = '';
    i += 1; // opening quote
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i += 1;
      value += header[i];
      i += 1;
    }
    i += 1; // closing quote
    return value;
  };

  while (i < n) {
    skipSpaces();
    if (header[i] === ',') {
      i += 1;
      continue;
    }
    const scheme = readToken();
    if (!scheme) {
      i += 1; // not a token: skip the character
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    // auth-params: name=value pairs separated by commas, up to the next scheme
    while (i < n) {
      skipSpaces();
      if (header[i] === ',') {
        i += 1;
        continue;
      }
      const start = i;
      const name = readToken();
      skipSpaces();
      if (!name || header[i] !== '=') {
        i = start; // a new challenge starts here
        break;
      }
      i += 1;
      skipSpaces();
      const value = header[i] === '"' ? readQuoted() : readToken();
      challenge.params[name.toLowerCase()] = value;
    }
  }
  return challenges;
}
