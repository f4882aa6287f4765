/**
 * kill -9 of the worker while a publish prepares the file on its host (a slow
 * preprocessing command): the publish notices the dead host by its heartbeat,
 * prepares again on the new worker and uploads exactly one image, instead of
 * waiting for the step's two-hour limit.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Emulator, startEmulator } from '../../emulator';
import { DevServer, startDevServer } from '../../temporal/dev-server';
import { localHostQueue } from '../../worker/worker';
import { WorkerProcesses, runEnv } from './processes';
import { publishWorkflow } from '../../workflows';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('publish survives kill -9 of the worker during preprocessing', () => {
  let dir: string;
  let emu: Emulator;
  let server: DevServer;
  let workers: WorkerProcesses;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-publish-kill-'));
    emu = await startEmulator({ regions: ['RegionOne'] });
    fs.writeFileSync(path.join(dir, 'image.qcow2'), randomBytes(200 * 1024));
    fs.writeFileSync(
      path.join(dir, 'images.yaml'),
      ['slow:', '  filename: image.qcow2', '  glance: { name: Slow Image }', ''].join('\n'),
    );
    const a = emu.admin;
    fs.writeFileSync(
      path.join(dir, 'upload.yaml'),
      [
        'one:',
        '  keystone:',
        `    auth_url: ${emu.authUrl}`,
        `    username: ${a.username}`,
        `    password: ${a.password}`,
        `    project_name: ${a.projectName}`,
        '    user_domain_name: Default',
        '    project_domain_name: Default',
        '    region_name: RegionOne',
        '  preprocessing:',
        // slow enough to be killed in the middle; marks each start so the test sees the second attempt
        '    cmdline: "echo started >> preprocessing.log; sleep 6; cp %(input_filename)s %(output_filename)s"',
        '    output_filename: "%(input_filename)s.processed"',
        '',
      ].join('\n'),
    );
    server = await startDevServer({ log: path.join(dir, 'temporal.log') });
    workers = new WorkerProcesses({
      cwd: dir,
      logDir: dir,
      env: () => runEnv(server.address, path.join(dir, 'state')),
    });
    await workers.start();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
  }, 120_000);

  afterAll(async () => {
    await workers?.stop();
    await connection?.close();
    await server?.stop();
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('prepares again on a new worker within the heartbeat timeout and publishes one image', async () => {
    const config = {
      cwd: dir,
      imagesConfig: path.join(dir, 'images.yaml'),
      uploadConfig: path.join(dir, 'upload.yaml'),
    };
    const handle = await client.workflow.start(publishWorkflow, {
      taskQueue: 'dibctl',
      workflowId: 'publish-kill',
      args: [{ imageLabel: 'slow', environment: 'one', config, fileQueue: localHostQueue('dibctl'), obsolete: false }],
    });
    const marks = path.join(dir, 'preprocessing.log');
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(marks)) {
      if (Date.now() > deadline) throw new Error('preprocessing never started');
      await sleep(100);
    }
    await workers.kill9();
    await workers.start();

    const started = Date.now();
    const result = await handle.result();
    // the heartbeat timeout (30 s) and one retry, far from the step's two hours
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(fs.readFileSync(marks, 'utf8').trim().split('\n')).toHaveLength(2);
    const images = emu.state().regions.RegionOne.images.filter((i) => i.name === 'Slow Image');
    expect(images.map((i) => ({ id: i.id, status: i.status }))).toEqual([{ id: result.imageId, status: 'active' }]);
  }, 150_000);
});
