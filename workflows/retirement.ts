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

/** A held image as the status lists it. */
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

/** A held image in a run: its origin is an index into the run's hand-overs (none: the workflow's own configs). */
interface Holding {
  id: string;
  name: string;
  heldSince: number;
  reason: string;
  origin?: number;
}

/**
 * The held images as a run hands them on, each distinct value once: a publish
 * hands many images over with one set of configs, one time and, after a
 * check, mostly one reason, so those are stored in tables and, per image in
 * the order of `ids`, as runs of table indexes (`[index, count, index, count,
 * ...]`; origin -1 is the workflow's own configs). An image takes about 45
 * bytes (20,000 under 900 KB), where a list of objects took 250 and more, and
 * 10,000 of them outgrew Temporal's 2 MB payload limit.
 */
interface HeldState {
  ids: string[];
  origins: HandOver[];
  names: string[];
  reasons: string[];
  times: number[];
  origin: number[];
  name: number[];
  reason: number[];
  heldSince: number[];
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
  /** The held images as runs before this one handed them on: still read, no longer written. */
  held?: HeldImage[];
  /** The held images a run hands on. */
  holding?: HeldState;
  lastCheck?: RetirementCheck;
  checks?: number;
  policy?: RetirePolicy;
  /** For tests: also continue as new after every this many checks (counted over all runs). */
  checksPerRun?: number;
}

export interface RetirementStatus {
  environment: string;
  /** The first held images (at most LISTED_IN_STATUS), in the order they were handed over. */
  held: HeldImage[];
  /** How many images it holds in all (absent from workflows of earlier versions, which list them all). */
  heldCount?: number;
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
/** Held images the status lists: a query's answer stays far below Temporal's payload limit however many it holds. */
const LISTED_IN_STATUS = 500;

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

/** Distinct values in the order first seen, and the index of each. */
function table<T>(): { values: T[]; indexOf(value: T): number } {
  const values: T[] = [];
  const at = new Map<T, number>();
  return {
    values,
    indexOf(value) {
      let i = at.get(value);
      if (i === undefined) {
        i = values.length;
        values.push(value);
        at.set(value, i);
      }
      return i;
    },
  };
}

/** Values as runs: `[value, count, value, count, ...]`. */
function runsOf(values: number[]): number[] {
  const runs: number[] = [];
  for (const v of values) {
    if (runs.length && runs[runs.length - 2] === v) runs[runs.length - 1]++;
    else runs.push(v, 1);
  }
  return runs;
}

/** The `length` values that runs stand for (`missing` past their end). */
function valuesOf(runs: number[] | undefined, length: number, missing: number): number[] {
  const values: number[] = [];
  for (let i = 0; i + 1 < (runs?.length ?? 0) && values.length < length; i += 2) {
    for (let n = 0; n < runs![i + 1] && values.length < length; n++) values.push(runs![i]);
  }
  while (values.length < length) values.push(missing);
  return values;
}

/** What a run hands on of the images it holds (origins: the run's hand-overs that `origin` indexes). */
function packHeld(held: Iterable<Holding>, origins: HandOver[]): HeldState {
  const ids: string[] = [];
  const [origin, name, reason, heldSince] = [[], [], [], []] as number[][];
  const tables = { origins: table<number>(), names: table<string>(), reasons: table<string>(), times: table<number>() };
  for (const h of held) {
    ids.push(h.id);
    origin.push(h.origin === undefined ? -1 : tables.origins.indexOf(h.origin));
    name.push(tables.names.indexOf(h.name));
    reason.push(tables.reasons.indexOf(h.reason));
    heldSince.push(tables.times.indexOf(h.heldSince));
  }
  return {
    ids,
    origins: tables.origins.values.map((i) => origins[i]),
    names: tables.names.values,
    reasons: tables.reasons.values,
    times: tables.times.values,
    origin: runsOf(origin),
    name: runsOf(name),
    reason: runsOf(reason),
    heldSince: runsOf(heldSince),
  };
}

export async function retirementWorkflow(input: RetirementInput): Promise<void> {
  /** The distinct places images were handed over from, each once: held images name theirs by index. */
  const origins: HandOver[] = [];
  const originIndex = new Map<string, number>();
  function originOf(from: Partial<HandOver> | undefined): number | undefined {
    if (!from?.config) return undefined;
    const key = JSON.stringify([from.config, from.target ?? null]);
    let i = originIndex.get(key);
    if (i === undefined) {
      i = origins.length;
      origins.push({ config: from.config, ...(from.target ? { target: from.target } : {}) });
      originIndex.set(key, i);
    }
    return i;
  }

  const held = new Map<string, Holding>();
  // runs of earlier versions hand a list of images on, each with its own configs and target
  for (const h of input.held ?? []) {
    const origin = originOf(h);
    held.set(h.id, {
      id: h.id,
      name: h.name,
      heldSince: h.heldSince,
      reason: h.reason,
      ...(origin !== undefined ? { origin } : {}),
    });
  }
  if (input.holding) {
    const c = input.holding;
    const [origin, name, reason, heldSince] = [c.origin, c.name, c.reason, c.heldSince].map((runs) =>
      valuesOf(runs, c.ids.length, -1),
    );
    c.ids.forEach((id, i) => {
      if (held.has(id)) return;
      const o = originOf(c.origins[origin[i]]);
      held.set(id, {
        id,
        name: c.names[name[i]] ?? '',
        heldSince: c.times[heldSince[i]] ?? 0,
        reason: c.reasons[reason[i]] ?? 'not checked yet',
        ...(o !== undefined ? { origin: o } : {}),
      });
    });
  }

  let lastCheck = input.lastCheck;
  let checks = input.checks ?? 0;
  let policy = bounded(input.policy);
  let checkRequested = false;
  let checking = false;
  let nextCheckAt: number | undefined;
  let stage = 'waiting';

  setHandler(addImagesSignal, (images, from) => {
    const origin = originOf(from);
    for (const img of images) {
      if (held.has(img.id)) continue;
      held.set(img.id, {
        id: img.id,
        name: img.name,
        heldSince: Date.now(),
        reason: 'not checked yet',
        ...(origin !== undefined ? { origin } : {}),
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
  setHandler(retirementStatusQuery, () => {
    const listed: HeldImage[] = [];
    for (const h of held.values()) {
      if (listed.length >= LISTED_IN_STATUS) break;
      const from = h.origin === undefined ? undefined : origins[h.origin];
      listed.push({
        id: h.id,
        name: h.name,
        heldSince: h.heldSince,
        reason: h.reason,
        ...(from ? { config: from.config } : {}),
        ...(from?.target ? { target: from.target } : {}),
      });
    }
    return {
      environment: input.environment,
      held: listed,
      heldCount: held.size,
      ...(policy ? { policy } : {}),
      ...(lastCheck ? { lastCheck } : {}),
      ...(nextCheckAt !== undefined ? { nextCheckAt } : {}),
      checks,
    };
  });
  setHandler(stageQuery, () => stage);

  const where = {
    environment: input.environment,
    config: input.config,
    ...(input.target ? { target: input.target } : {}),
  };

  /** The configs and target a held image is checked and deleted with: its publish's, else the workflow's. */
  function whereOf(h: Holding | undefined): typeof where {
    const from = h?.origin === undefined ? undefined : origins[h.origin];
    if (!from) return where;
    return { environment: input.environment, config: from.config, ...(from.target ? { target: from.target } : {}) };
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
      // the held images go on in their compact form, whichever form this run received
      const { held: _received, holding: _handedOn, ...rest } = input;
      const holding = packHeld(held.values(), origins);
      await continueAsNew<typeof retirementWorkflow>({ ...rest, holding, lastCheck, checks, policy });
    }
  }
}
