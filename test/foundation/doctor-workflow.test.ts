import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DoctorReport } from '../../workflows';
import { recordHistory } from '../support/histories';
import { useTemporal } from '../support/temporal';
import { doctorWorkflow } from '../../workflows';

describe('doctor workflow on a real Temporal dev server', () => {
  const temporal = useTemporal();

  it('runs its activities on a worker and returns one check per requirement', async () => {
    const t = temporal();
    const binDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-doctor-'));
    try {
      // A host whose disk-image-create answers with a known version, and nothing else on PATH.
      await fs.writeFile(path.join(binDir, 'disk-image-create'), '#!/bin/sh\necho "3.31.0"\n', { mode: 0o755 });
      await t.startWorkers('doctor-test', { env: { PATH: binDir } });
      const handle = await t.client.workflow.start(doctorWorkflow, {
        taskQueue: 'doctor-test',
        workflowId: `doctor-test-${Date.now()}`,
        args: [{ imageDir: binDir, minFreeBytes: 1 }],
      });
      const report: DoctorReport = await handle.result();
      await recordHistory(handle, 'doctor');
      const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
      expect(report.host.hostname).toBe(os.hostname());
      expect(report.taskQueue).toBe('doctor-test');
      expect(byName['disk-image-create']).toMatchObject({ ok: true, detail: '3.31.0' });
      expect(byName['qemu-img']).toMatchObject({ ok: false, detail: 'qemu-img: not found' });
      expect(byName['disk space']).toMatchObject({ ok: true });
      expect(byName['disk space'].detail).toMatch(/GiB free/);
      expect(Object.keys(byName).sort()).toEqual([
        'disk space',
        'disk-image-create',
        'pytest',
        'python3',
        'qemu-img',
        'ssh',
        'testinfra',
      ]);
    } finally {
      await fs.rm(binDir, { recursive: true, force: true });
    }
  });

  it('reports a disk below the threshold as failed', async () => {
    const t = temporal();
    await t.startWorkers('doctor-space', { env: { PATH: '' } });
    const report: DoctorReport = await t.client.workflow.execute(doctorWorkflow, {
      taskQueue: 'doctor-space',
      workflowId: `doctor-space-${Date.now()}`,
      args: [{ imageDir: os.tmpdir(), minFreeBytes: Number.MAX_SAFE_INTEGER }],
    });
    const disk = report.checks.find((c) => c.name === 'disk space');
    expect(disk?.ok).toBe(false);
    expect(disk?.detail).toMatch(/below/);
  });
});
