/**
 * Chaos: image lifecycles under kill -9 of the worker, Temporal restarts and
 * cloud faults leave nothing behind, publish once and delete nothing in use.
 * `npm test` runs a small fixed-seed slice; `npm run chaos -- --runs N [--seed S]`
 * runs N seeded runs (CHAOS_RUNS / CHAOS_SEED).
 */
import { CampaignResult, campaign } from './campaign';

/**
 * Seeds whose plans kill -9 the worker, restart Temporal, answer 5xx and fail a
 * region mid-lifecycle; 115 runs two overlapping lifecycles of the image.
 */
const FIXED_SEEDS = [27, 115];

const runs = Number(process.env.CHAOS_RUNS ?? 0);
const write = (line: string) => void process.stdout.write(`${line}\n`);

function seedsFor(): number[] {
  if (!runs) return FIXED_SEEDS;
  const first =
    process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
  return Array.from({ length: runs }, (_, i) => (first + i) >>> 0);
}

describe('chaos', () => {
  const seeds = seedsFor();
  const title = runs
    ? `${seeds.length} seeded runs from seed ${seeds[0]} leave no leak, no duplicate image and no used or protected image deleted`
    : `fixed seeds ${FIXED_SEEDS.join(', ')}: kill -9, Temporal restart and cloud faults leave no leak, no duplicate image and no used or protected image deleted`;
  it(
    title,
    async () => {
      if (runs) write(`chaos: ${seeds.length} runs, seeds ${seeds[0]}..${seeds[seeds.length - 1]}`);
      const result: CampaignResult = await campaign(seeds, write);
      expect(result.badSeeds).toEqual([]);
      expect(result.totals).toEqual({
        leakedServers: 0,
        leakedKeypairs: 0,
        leakedTestImages: 0,
        duplicatePublished: 0,
        usedOrProtectedDeleted: 0,
        leakedKeyFiles: 0,
        regionsWithoutCurrent: 0,
      });
      if (!runs) {
        // the fixed slice must really have hit the lifecycle with its faults, and come out correct
        for (const r of result.runs) expect(r.done.length).toBeGreaterThan(0);
        expect(result.correct).toBe(result.runs.length);
      }
    },
    Math.max(seeds.length, 1) * 600_000,
  );
});
