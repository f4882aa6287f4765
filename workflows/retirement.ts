/**
 * Retirement: one long-lived workflow per upload environment. It holds the
 * images obsoleted there, wakes on a durable timer (`retire.check_every`) or
 * when asked, and deletes those that are obsolete, unprotected, held longer
 * than `retire.delete_after`, not among the newest `retire.keep` of their name
 * and used by no server of any project — checked once more right before each
 * delete. Without the right to list every project's servers it says so and
 * waits for the next check. It continues as new when its history grows large
 * (or Temporal suggests it), so the history stays small whatever happens in a run.
 * The policy it receives is clamped to the bounds config enforces, so a value
 * that an older worker let through cannot make it throw.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities, CloudTarget, ConfigLocation, ObsoletedImage } from '../activities';
import type { DeleteVerdict } from '../activities/publish';
import type { RetirePolicy } from '../config/view';
import { DEFAULTS, LIMITS } from '../config/defaults';
import { parseDuration } from '../config/duration';
import { failureOf } from '../errors/failure';
import { retirementSteps } from './activity-options';
import { stageQuery } from './queries';

const short = retirementSteps();

interface HeldImage {
  id: string;
  name: string;
  /** When this workflow received it (ms since the epoch). */
  heldSince: number;
  /** Why it is still held, as of the last check. */
  reason: string;
  /** Where the publish that obsoleted it read its configs and which cloud it named (else the workflow's own). */
  config?: ConfigLocation;
  target?: CloudTarget;
}

/** Where a hand-over came from: each held image is checked and deleted with the configs and target of its publish. */
type Survey = Awaited<ReturnType<Activities['surveyObsoleteImages']>>;

interface HandOver {
  config: ConfigLocation;
  target?: CloudTarget;
}

interface RetirementCheck {
  at: number;
  deleted: string[];
  /** Held images that no longer existed. */
  gone: string[];
  /** Why the check could not decide (e.g. no right to list every project's servers). */
  problem?: string;
}

interface RetirementInput {
  environment: string;
  config: ConfigLocation;
  /** Where the environment led when the first publish handed images over: every check acts there only. */
  target?: CloudTarget;
  held?: HeldImage[];
  lastCheck?: RetirementCheck;
  checks?: number;
  policy?: RetirePolicy;
  /** For tests: also continue as new after every this many checks (counted over all runs). */
  checksPerRun?: number;
}

export interface RetirementStatus {
  environment: string;
  held: HeldImage[];
  policy?: RetirePolicy;
  lastCheck?: RetirementCheck;
  nextCheckAt?: number;
  checks: number;
}

export const addImagesSignal = defineSignal<[ObsoletedImage[], HandOver?]>('addImages');
/** Runs a check now and returns it once it has run (a check under way when asked does not count: it may predate the request). */
export const checkNowUpdate = defineUpdate<RetirementCheck>('checkNowAndWait');
export const retirementStatusQuery = defineQuery<RetirementStatus>('retirementStatus');
/** The fire-and-forget form that workflows started by earlier versions of the CLI may still receive. */
const checkNowSignal = defineSignal('checkNow');

/** A run continues as new once its history holds this many events or bytes (or Temporal suggests it). */
const HISTORY_EVENTS_PER_RUN = 2_000;
const HISTORY_BYTES_PER_RUN = 2 * 1024 * 1024;
/**
 * Runs started before the history bound continued as new every 50 checks; they
 * keep that rule until they reach code that records this patch.
 */
const HISTORY_BOUND_PATCH = 'retirement-continue-as-new-on-history-size';
const CHECKS_PER_RUN_BEFORE_HISTORY_BOUND = 50;
/** Runs that reach code recording this patch delete in batches; earlier ones go on with a delete per image. */
const BATCHED_DELETES_PATCH = 'retirement-batched-deletes';
/** Images one delete step checks and deletes: one check for them all, and verdicts below 512 KiB (Temporal warns above it). */
const DELETE_BATCH = 2_500;

const DEFAULT_POLICY: RetirePolicy = {
  checkEverySeconds: parseDuration(DEFAULTS['retire.check_every'])!,
  deleteAfterSeconds: parseDuration(DEFAULTS['retire.delete_after'])!,
  keep: DEFAULTS['retire.keep'],
};

/** value within [min, max]; fallback when it is not a number at all. */
function within(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && !Number.isNaN(value) ? Math.min(Math.max(value, min), max) : fallback;
}

/**
 * The policy clamped to the bounds config enforces (LIMITS): config refuses
 * anything else, but a policy from an older worker or an earlier run may hold
 * any value, and one too large would make building the next check's date throw.
 */
function bounded(p: RetirePolicy | undefined): RetirePolicy | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const { maxDurationSeconds, minCheckEverySeconds } = LIMITS;
  return {
    checkEverySeconds: within(
      p.checkEverySeconds,
      minCheckEverySeconds,
      maxDurationSeconds,
      DEFAULT_POLICY.checkEverySeconds,
    ),
    deleteAfterSeconds: within(p.deleteAfterSeconds, 0, maxDurationSeconds, DEFAULT_POLICY.deleteAfterSeconds),
    keep: Math.floor(within(p.keep, 0, Number.MAX_SAFE_INTEGER, DEFAULT_POLICY.keep)),
  };
}

/** Whether this run's history is large enough to hand on (Temporal's own suggestion included). */
function historyIsLarge(): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.historyLength >= HISTORY_EVENTS_PER_RUN ||
    info.historySize >= HISTORY_BYTES_PER_RUN
  );
}

function problemOf(err: unknown): string {
  return failureOf(err).message;
}

export async function retirementWorkflow(input: RetirementInput): Promise<void> {
  const held = new Map<string, HeldImage>((input.held ?? []).map((h) => [h.id, h]));
  let lastCheck = input.lastCheck;
  let checks = input.checks ?? 0;
  let policy = bounded(input.policy);
  let checkRequested = false;
  let checking = false;
  let nextCheckAt: number | undefined;
  let stage = 'waiting';

  setHandler(addImagesSignal, (images, from) => {
    for (const img of images) {
      if (held.has(img.id)) continue;
      held.set(img.id, {
        id: img.id,
        name: img.name,
        heldSince: Date.now(),
        reason: 'not checked yet',
        ...(from ? { config: from.config } : {}),
        ...(from?.target ? { target: from.target } : {}),
      });
    }
  });
  setHandler(checkNowSignal, () => {
    checkRequested = true;
  });
  setHandler(checkNowUpdate, async () => {
    const target = checks + (checking ? 2 : 1);
    checkRequested = true;
    await condition(() => checks >= target);
    return lastCheck ?? { at: Date.now(), deleted: [], gone: [] };
  });
  setHandler(retirementStatusQuery, () => ({
    environment: input.environment,
    held: [...held.values()],
    ...(policy ? { policy } : {}),
    ...(lastCheck ? { lastCheck } : {}),
    ...(nextCheckAt !== undefined ? { nextCheckAt } : {}),
    checks,
  }));
  setHandler(stageQuery, () => stage);

  const where = {
    environment: input.environment,
    config: input.config,
    ...(input.target ? { target: input.target } : {}),
  };

  /** The configs and target a held image is checked and deleted with: its publish's, else the workflow's. */
  function whereOf(h: HeldImage | undefined): typeof where {
    if (!h?.config) return where;
    return { environment: input.environment, config: h.config, ...(h.target ? { target: h.target } : {}) };
  }

  /** Held images (all, or these) grouped by where they are checked, in the order given. */
  function byOrigin(ids: Iterable<string> = held.keys()): Array<{ where: typeof where; ids: string[] }> {
    const groups = new Map<string, { where: typeof where; ids: string[] }>();
    for (const id of ids) {
      const h = held.get(id);
      if (!h) continue;
      const w = whereOf(h);
      const key = JSON.stringify([w.config, w.target ?? null]);
      const g = groups.get(key) ?? { where: w, ids: [] };
      g.ids.push(h.id);
      groups.set(key, g);
    }
    return [...groups.values()];
  }

  async function check(): Promise<void> {
    const now = Date.now();
    const report: RetirementCheck = { at: now, deleted: [], gone: [] };
    lastCheck = report;
    if (!held.size) return;
    const p = policy ?? DEFAULT_POLICY;
    // one survey per place the held images came from (usually one)
    const survey: Survey = { images: [], missing: [] };
    for (const group of byOrigin()) {
      try {
        const part = await short.surveyObsoleteImages({ ...group.where, ids: group.ids });
        survey.images.push(...part.images);
        survey.missing.push(...part.missing);
      } catch (err) {
        report.problem = problemOf(err);
        const reason = report.problem.startsWith('cannot check now')
          ? report.problem
          : `cannot check now: ${report.problem}`;
        for (const id of group.ids) {
          const h = held.get(id);
          if (h) h.reason = reason;
        }
      }
    }
    for (const id of survey.missing) {
      held.delete(id);
      report.gone.push(id);
    }
    // the newest `keep` copies of each name stay
    const newest = new Set<string>();
    const byName = new Map<string, typeof survey.images>();
    for (const img of survey.images) byName.set(img.name, [...(byName.get(img.name) ?? []), img]);
    for (const group of byName.values()) {
      [...group]
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, p.keep)
        .forEach((img) => newest.add(img.id));
    }
    const candidates: string[] = [];
    for (const img of survey.images) {
      const h = held.get(img.id);
      if (!h) continue;
      const due = h.heldSince + p.deleteAfterSeconds * 1000;
      if (img.keptBecause) h.reason = img.keptBecause;
      else if (img.protected) h.reason = 'protected';
      else if (!img.obsolete) h.reason = 'no longer obsolete';
      else if (img.usedBy > 0) h.reason = `used by ${img.usedBy} server${img.usedBy > 1 ? 's' : ''}`;
      else if (due > now) h.reason = `kept until ${new Date(due).toISOString()} (delete_after)`;
      else if (newest.has(img.id)) h.reason = `one of the newest ${p.keep} of its name (keep)`;
      else candidates.push(img.id);
    }
    const apply = (verdict: DeleteVerdict) => {
      if (verdict.outcome === 'kept') {
        const h = held.get(verdict.imageId);
        if (h) h.reason = verdict.reason;
      } else {
        held.delete(verdict.imageId);
        (verdict.outcome === 'deleted' ? report.deleted : report.gone).push(verdict.imageId);
      }
    };
    const failed = (imageId: string, err: unknown) => {
      const h = held.get(imageId);
      if (h) h.reason = `delete failed: ${problemOf(err)}`;
    };
    if (patched(BATCHED_DELETES_PATCH)) {
      // one activity checks and deletes a batch: a listing per check, not per image
      for (const group of byOrigin(candidates)) {
        for (let i = 0; i < group.ids.length; i += DELETE_BATCH) {
          const imageIds = group.ids.slice(i, i + DELETE_BATCH);
          stage = `deleting ${imageIds.length} image${imageIds.length > 1 ? 's' : ''}`;
          try {
            (await short.deleteUnusedImages({ ...group.where, imageIds })).forEach(apply);
          } catch (err) {
            for (const imageId of imageIds) failed(imageId, err);
          }
        }
      }
      return;
    }
    for (const imageId of candidates) {
      stage = `deleting ${imageId}`;
      try {
        apply(await short.deleteUnusedImage({ ...whereOf(held.get(imageId)), imageId }));
      } catch (err) {
        failed(imageId, err);
      }
    }
  }

  for (;;) {
    try {
      policy = bounded(await short.retirePolicy(where));
    } catch (err) {
      // a broken config must not end retirement: keep the last policy and say why
      lastCheck = {
        at: Date.now(),
        deleted: [],
        gone: [],
        problem: `cannot read the retire policy: ${problemOf(err)}`,
      };
    }
    const every = (policy ?? DEFAULT_POLICY).checkEverySeconds * 1000;
    nextCheckAt = Date.now() + every;
    stage = `waiting until ${new Date(nextCheckAt).toISOString()}`;
    await condition(() => checkRequested, every);
    checkRequested = false;
    stage = 'checking';
    checking = true;
    await check();
    checking = false;
    checks++;
    // a check asked for meanwhile runs first: its caller waits for it in this run
    const due = patched(HISTORY_BOUND_PATCH)
      ? historyIsLarge() || (input.checksPerRun !== undefined && checks % input.checksPerRun === 0)
      : checks % (input.checksPerRun ?? CHECKS_PER_RUN_BEFORE_HISTORY_BOUND) === 0 ||
        workflowInfo().continueAsNewSuggested;
    if (due && !checkRequested) {
      // callers waiting for this check get their answer before the history is handed on
      await condition(allHandlersFinished);
      await continueAsNew<typeof retirementWorkflow>({ ...input, held: [...held.values()], lastCheck, checks, policy });
    }
  }
}
