/**
 * The rendered desired state of one commit.
 *
 * A repository holds *waves* (folders named `<number>-<name>`), and each wave holds *steps*
 * (the files whose names start with the same `<number>-`). Every YAML document in a step's
 * files becomes one `DesiredObject`, remembering where it came from so that any error can
 * name `file:line:col`.
 */

import type { KubeObject } from '../kube/object.js';

export type { KubeObject, ObjectMeta } from '../kube/object.js';

/** Where a document starts, relative to the repository root (1-based line and column). */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export interface DesiredObject {
  object: KubeObject;
  /** Wave number (from the folder name) and the folder name itself. */
  wave: number;
  waveName: string;
  /** Step number (from the file name prefix). */
  step: number;
  source: SourceLocation;
}

export interface Step {
  number: number;
  files: string[];
  objects: DesiredObject[];
}

export interface Wave {
  number: number;
  name: string;
  /** Folder path relative to the repository root. */
  dir: string;
  steps: Step[];
}

/** Something in the repository that does not fit the layout or cannot be parsed. */
export interface Problem {
  severity: 'error' | 'warning';
  /** Path relative to the repository root. */
  file: string;
  line?: number;
  col?: number;
  message: string;
}

export interface RenderedRepo {
  waves: Wave[];
  /** Warnings only: a render with errors throws `RenderError`. */
  problems: Problem[];
}
