/** A Pipeline's spec as the controller uses it: valid, with its defaults, or nothing. */
import { parsePipelineSpec, type Pipeline, type PipelineSpec } from '../api/pipeline.js';

/** The validated spec; undefined for an invalid one (its status says why, see record.ts). */
export function validSpec(pipeline: Pipeline): PipelineSpec | undefined {
  try {
    return parsePipelineSpec(pipeline.spec);
  } catch {
    return undefined;
  }
}
