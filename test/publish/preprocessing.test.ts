/**
 * Preprocessing output is each publish's own: parallel publishes of one image
 * upload their own complete file and never delete each other's; use_existing
 * keeps the file it uses; a failed or cancelled command leaves no partial output.
 * Real Temporal server and workers, the OpenStack emulator, real shell commands.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPublishActivities } from '../../activities/publish';
import { localHostQueue } from '../../worker/worker';
import { PublishResult, publishWorkflow } from '../../workflows';
import { IMAGE_BYTES, environmentEntry, usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

async function download(imageId: string): Promise<Buffer> {
  const cloud = await f().cloud('admin');
  const chunks: Buffer[] = [];
  for await (const chunk of (await cloud.image.downloadImage(imageId)) as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Entries of the config directory that preprocessing made (outputs, per-publish directories). */
function leftovers(): string[] {
  return readdirSync(f().tree.root).filter((n) => n.startsWith('base.qcow2.out'));
}

function preprocessingEnv(label: string, ...lines: string[]): void {
  f().writeUploadConfig(
    environmentEntry(f().emu, label, 'admin', 'RegionOne', '  preprocessing:', ...lines.map((l) => `    ${l}`)),
  );
}

function publish(workflowId: string, environment: string): Promise<PublishResult> {
  return f().temporal.client.workflow.execute(publishWorkflow, {
    taskQueue: 'dibctl',
    workflowId,
    args: [
      {
        imageLabel: 'base',
        environment,
        config: { cwd: f().tree.root },
        fileQueue: localHostQueue('dibctl'),
        obsolete: false,
      },
    ],
  });
}

describe('preprocessing output per publish', () => {
  it('two parallel publishes of one image each upload their own complete output and delete only their own', async () => {
    // written in two halves a second apart, then the file's own name appended: the
    // upload shows which publish's output it read, and whether it was complete
    preprocessingEnv(
      'pre',
      'cmdline: "head -c 1048576 %(input_filename)s > %(output_filename)s && sleep 1 && tail -c +1048577 %(input_filename)s >> %(output_filename)s && echo %(output_filename)s >> %(output_filename)s"',
      'output_filename: "%(input_filename)s.out"',
    );
    f().emu.faults.set({ uploadBytesPerSecond: 2 * 1024 * 1024 });
    try {
      const stamp = Date.now();
      const ids = [`parallel-a-${stamp}`, `parallel-b-${stamp}`];
      const first = publish(ids[0], 'pre');
      // the second one converts while the first one uploads
      await new Promise((r) => setTimeout(r, 1_200));
      const results = await Promise.all([first, publish(ids[1], 'pre')]);
      const input = readFileSync(f().tree.path('base.qcow2'));
      const written: string[] = [];
      for (const [i, r] of results.entries()) {
        const data = await download(r.imageId!);
        expect(data.length).toBeGreaterThan(IMAGE_BYTES);
        expect(data.subarray(0, IMAGE_BYTES).equals(input)).toBe(true);
        const name = data.subarray(IMAGE_BYTES).toString();
        // the command wrote under the publish's own temporary name (see config/README.md), the file name kept
        const hash = createHash('sha256').update(`${ids[i]}/publish/pre`).digest('hex').slice(0, 8);
        expect(name).toBe(
          f().tree.path(`base.qcow2.out.publish-${ids[i]}-publish-pre-${hash}.partial/base.qcow2.out\n`),
        );
        written.push(name);
      }
      expect(written[0]).not.toBe(written[1]);
      // each deleted its own output (and directory) after its upload; nothing else is left
      expect(leftovers()).toEqual([]);
    } finally {
      f().emu.faults.reset();
    }
  });

  it('use_existing makes a missing output once, reuses it afterwards and never deletes it', async () => {
    preprocessingEnv(
      'reuse',
      'cmdline: "echo ran >> runs.log && cp %(input_filename)s %(output_filename)s"',
      'output_filename: "%(input_filename)s.out"',
      'use_existing: true',
      'delete_processed_after_upload: true',
    );
    const one = await publish(`reuse-a-${Date.now()}`, 'reuse');
    expect(existsSync(f().tree.path('base.qcow2.out'))).toBe(true);
    const two = await publish(`reuse-b-${Date.now()}`, 'reuse');
    expect(readFileSync(f().tree.path('runs.log'), 'utf8')).toBe('ran\n');
    for (const r of [one, two]) {
      expect(
        f()
          .images()
          .find((i) => i.id === r.imageId),
      ).toMatchObject({ status: 'active', size: IMAGE_BYTES });
    }
    // the file it uses stays, and no per-publish directory is left beside it
    expect(leftovers()).toEqual(['base.qcow2.out']);
    rmSync(f().tree.path('base.qcow2.out'));
  });

  it('a failed preprocessing leaves no partial output and creates no image', async () => {
    preprocessingEnv(
      'broken',
      'cmdline: "head -c 1000 %(input_filename)s > %(output_filename)s && echo half done >&2 && exit 3"',
      'output_filename: "%(input_filename)s.out"',
    );
    const count = f().images().length;
    const r = await f().cli(['upload', 'base', 'broken']);
    expect(r.code).toBe(18);
    expect(r.stderr).toContain('Preprocessing failed (exit 3)');
    expect(r.stderr).toContain('half done');
    expect(leftovers()).toEqual([]);
    expect(f().images()).toHaveLength(count);
  });

  it('a cancelled preprocessing leaves no partial output', async () => {
    preprocessingEnv(
      'slow',
      'cmdline: "head -c 1000 %(input_filename)s > %(output_filename)s && touch started && sleep 30"',
      'output_filename: "%(input_filename)s.out"',
    );
    const acts = createPublishActivities({ env: process.env });
    const env = new MockActivityEnvironment();
    const run = env
      .run(acts.prepareUpload, {
        imageLabel: 'base',
        environment: 'slow',
        config: { cwd: f().tree.root },
        buildId: 'cancelled/publish/slow',
      })
      .catch((e: unknown) => e);
    for (let i = 0; i < 100 && !existsSync(f().tree.path('started')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(leftovers()).toHaveLength(1);
    env.cancel();
    expect(await run).toMatchObject({ details: [{ exitCode: 18 }] });
    expect(leftovers()).toEqual([]);
  });
});
