/**
 * A Fleet's rollout policy (`spec.rollout`): the stages a new revision passes through, in
 * order, and what "done" and "failed" mean for each.
 *
 *   rollout:
 *     autoRollback: true          # a halted stage's devices go back to the last good revision
 *     stages:
 *       - name: canary
 *         selector: {matchLabels: {ring: canary}}
 *         minReady: 1             # a count, or a percent of the stage's online devices ("100%")
 *         maxFailures: 0          # a count, or a percent ("10%": floor(10% of the online devices))
 *         soak: 10m               # how long the stage must stay ready before the next one starts
 *
 * Selectors are Kubernetes label selectors on the Device's labels (`matchLabels` and
 * `matchExpressions` with In, NotIn, Exists, DoesNotExist; an empty selector selects every
 * device). Defaults: minReady "100%", maxFailures 0, soak "0s", autoRollback false.
 * `parseRolloutPolicy` validates and fills in every default in one place; its errors name the
 * field (`spec.rollout.stages.0.minReady: ...`).
 */
import { z } from 'zod';
import { parseDuration } from '../../api/pipeline.js';
import { Reasons } from '../../api/reasons.js';
import { DorisError } from '../../errors.js';
import { labelKeySchema, labelValueSchema, labelsSchema } from '../protocol.js';

/** A threshold: an absolute number of devices, or a percent of the stage's online devices. */
export type Amount = { count: number } | { percent: number };

const amountSchema = z.union([z.number(), z.string()]).transform((value, ctx): Amount => {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 1_000_000) return { count: value };
  } else {
    const percent = /^(\d{1,3})%$/.exec(value);
    if (percent && Number(percent[1]) <= 100) return { percent: Number(percent[1]) };
    // The CRD admits "3" (int-or-string); read it as the count it spells.
    if (/^\d{1,7}$/.test(value)) return { count: Number(value) };
  }
  ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a device count (0, 1, 2, ...) or a percent from "0%" to "100%"` });
  return z.NEVER;
});

const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a stage name (a DNS label: lower case, digits and -, at most 63)');

const requirementSchema = z
  .object({
    key: labelKeySchema,
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: z.array(labelValueSchema).max(64).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const set = (r.operator === 'In' || r.operator === 'NotIn') && (r.values?.length ?? 0) === 0;
    const unset = (r.operator === 'Exists' || r.operator === 'DoesNotExist') && (r.values?.length ?? 0) > 0;
    if (set) ctx.addIssue({ code: 'custom', path: ['values'], message: `${r.operator} needs at least one value` });
    if (unset) ctx.addIssue({ code: 'custom', path: ['values'], message: `${r.operator} takes no values` });
  });

export const selectorSchema = z
  .object({
    matchLabels: labelsSchema.optional(),
    matchExpressions: z.array(requirementSchema).max(32).optional(),
  })
  .strict();

export type Selector = z.infer<typeof selectorSchema>;

/** Soak: a duration that may be zero ("0s"), at most a week. */
const soakSchema = z
  .string()
  .regex(/^(\d+(ms|s|m|h))+$/, 'a duration such as 0s, 30s, 10m or 1h30m')
  .refine((text) => parseDuration(text) <= 7 * 24 * 3_600_000, 'at most 168h');

const stageSchema = z
  .object({
    name: dnsLabel,
    selector: selectorSchema,
    minReady: amountSchema.default({ percent: 100 }),
    maxFailures: amountSchema.default({ count: 0 }),
    soak: soakSchema.default('0s'),
  })
  .strict()
  .transform((stage) => ({ ...stage, soakMs: parseDuration(stage.soak) }));

export type Stage = z.infer<typeof stageSchema>;

export const rolloutPolicySchema = z
  .object({
    stages: z.array(stageSchema).max(16).default([]),
    autoRollback: z.boolean().default(false),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.stages.forEach((stage, i) => {
      if (stage.name === implicitStageName)
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: `"${implicitStageName}" is the name of the implicit last stage` });
      if (seen.has(stage.name)) ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: `a second stage named "${stage.name}"` });
      seen.add(stage.name);
    });
  });

export type RolloutPolicy = z.infer<typeof rolloutPolicySchema>;

/** The stage of the devices no stage selects; always last. Not a DNS label, so it cannot collide. */
export const implicitStageName = '(rest)';

/** Validates `spec.rollout` (undefined: no rollout policy, every device gets each revision at once). */
export function parseRolloutPolicy(raw: unknown): RolloutPolicy | undefined {
  if (raw === undefined || raw === null) return undefined;
  const result = rolloutPolicySchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues
      .map((i) => `spec.rollout${i.path.map((p) => (typeof p === 'number' ? `.${p}` : `.${String(p)}`)).join('')}: ${i.message}`)
      .join('; ');
    throw new DorisError(Reasons.InvalidSpec, `invalid Fleet rollout policy: ${issues}`);
  }
  return result.data;
}

/** Whether a Device's labels satisfy a label selector (Kubernetes semantics: NotIn and DoesNotExist match an absent key). */
export function selects(selector: Selector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const ok =
      operator === 'In'
        ? has && values.includes(labels[key] as string)
        : operator === 'NotIn'
          ? !has || !values.includes(labels[key] as string)
          : operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

/**
 * Devices a threshold stands for in a stage of `size` online devices. Percents of minReady
 * round UP (50% of 3 is 2: "at least half" never means fewer than half); percents of
 * maxFailures round DOWN (10% of 5 is 0: one failure halts). A count larger than the stage
 * means the whole stage.
 */
export function required(amount: Amount, size: number): number {
  return 'count' in amount ? Math.min(amount.count, size) : Math.floor((amount.percent * size + 99) / 100);
}

export function tolerated(amount: Amount, size: number): number {
  return 'count' in amount ? amount.count : Math.floor((amount.percent * size) / 100);
}

/** "3" or "50%", as the user wrote it. */
export function formatAmount(amount: Amount): string {
  return 'count' in amount ? String(amount.count) : `${amount.percent}%`;
}
