/**
 * The process runner every child process goes through: a cancelled or timed
 * out command leaves no process behind (its backgrounded children included),
 * captured output stays within its cap, and known secrets never reach the
 * output. Checked on the runner itself and through preprocessing and external
 * upload, the publish steps that run operator commands.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  OutputLog,
  OutputSink,
  capture,
  runCapturing,
  runCommandLine,
  runProcess,
  truncationMarker,
} from '../../activities/process';
import { createPublishActivities } from '../../activities/publish';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes of a group that still run (zombies waiting for a parent that is gone do not count). */
function liveMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so read after its closing parenthesis
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') out.push(Number(name));
  }
  return out;
}

/** Whether the process still runs (a zombie does not). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

async function until(what: () => boolean, ms = 5_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (what()) return true;
    await sleep(50);
  }
  return what();
}

/** Pid of the group leader and of the backgrounded sleep, as the command wrote them. */
async function pidsFrom(file: string): Promise<number[]> {
  await until(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').trim().split('\n').length >= 2);
  return fs.readFileSync(file, 'utf8').trim().split('\n').map(Number);
}

class Collected implements OutputSink {
  text = '';
  notes: string[] = [];
  write(chunk: string | Buffer): void {
    this.text += chunk.toString();
  }
  note(line: string): void {
    this.notes.push(line);
  }
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-process-runner-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A compound command: a backgrounded sleep and a foreground one; writes both pids to `file`. */
const twoSleeps = (file: string) => `echo $$ > ${file}; sleep 300 & echo $! >> ${file}; sleep 300`;

describe('process runner', () => {
  test('cancelling `sleep 300 & sleep 300` kills the whole group, the backgrounded sleep included', async () => {
    const pids = path.join(dir, 'cancel.pids');
    const abort = new AbortController();
    const output = new Collected();
    const run = runCommandLine(twoSleeps(pids), { signal: abort.signal, output });
    const [leader, background] = await pidsFrom(pids);
    expect(running(background)).toBe(true);
    abort.abort();
    const o = await run;
    expect(o).toMatchObject({ aborted: true, timedOut: false, code: null, pid: leader });
    expect(output.notes).toContain('dibctl: cancelled, stopping the test');
    expect(await until(() => liveMembers(leader).length === 0)).toBe(true);
    expect(running(background)).toBe(false);
  });

  test('a time limit kills the whole group, even a member that ignores SIGTERM', async () => {
    const pids = path.join(dir, 'timeout.pids');
    const output = new Collected();
    const started = Date.now();
    const o = await runCommandLine(`trap '' TERM; ${twoSleeps(pids)}`, { timeoutMs: 500, killGraceMs: 300, output });
    const [leader, background] = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(o).toMatchObject({ timedOut: true, aborted: false, code: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(output.notes.join('\n')).toContain("time limit of 1 s reached, killing the test's process group");
    expect(await until(() => liveMembers(leader).length === 0)).toBe(true);
    expect(running(background)).toBe(false);
  });

  test('members left behind when the program exits are killed too', async () => {
    const pids = path.join(dir, 'leftover.pids');
    const o = await runCommandLine(`echo $$ > ${pids}; sleep 300 & echo $! >> ${pids}; exit 4`, {
      output: new Collected(),
    });
    const [leader, background] = fs.readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(o).toMatchObject({ code: 4, timedOut: false, aborted: false });
    expect(await until(() => liveMembers(leader).length === 0)).toBe(true);
    expect(running(background)).toBe(false);
  });

  test('captured output keeps only the end, after a marker saying how much was cut', async () => {
    // 200 lines of 100 characters (99 + newline), then a last line
    const o = await runCapturing(
      "i=0; while [ $i -lt 200 ]; do printf '%099d\\n' $i; i=$((i+1)); done; echo last line",
      { limit: 1000 },
    );
    expect(o.code).toBe(0);
    const total = 200 * 100 + 'last line\n'.length;
    expect(o.output.startsWith(`${truncationMarker(total - 1000)}\n`)).toBe(true);
    expect(o.output.length).toBe(truncationMarker(total - 1000).length + 1 + 1000);
    expect(o.output.endsWith('00000199\nlast line\n')).toBe(true);

    const small = await runCapturing('echo short', { limit: 1000 });
    expect(small.output).toBe('short\n');
  });

  test('a log keeps everything in its file and a capped tail in memory', async () => {
    const log = new OutputLog(path.join(dir, 'big.log'));
    const o = await runProcess(
      '/bin/sh',
      ['-c', "i=0; while [ $i -lt 300 ]; do printf '%099d\\n' $i; i=$((i+1)); done"],
      { output: log },
    );
    log.close();
    expect(o.code).toBe(0);
    expect(fs.statSync(log.file).size).toBe(300 * 100);
    expect(log.tail()).toMatch(/^\[dibctl: \d+ earlier characters of output not kept\]\n/);
    expect(log.tail().length).toBeLessThan(8 * 1024 + 100);
  });

  test('a known secret is scrubbed from the output, even when written in two pieces', async () => {
    const secret = 'Zq-s3cret-Xv-7781';
    const lines: string[] = [];
    const log = new OutputLog(path.join(dir, 'secret.log'), (l) => lines.push(l));
    const o = await runCommandLine(
      `printf 'token=Zq-s3cr'; sleep 0.2; printf 'et-Xv-7781 end\\n'; echo "$SECRET" >&2; printf "$SECRET"`,
      {
        env: { ...process.env, SECRET: secret },
        secrets: [secret, undefined, ''],
        output: log,
      },
    );
    log.close();
    expect(o.code).toBe(0);
    const file = fs.readFileSync(log.file, 'utf8');
    for (const text of [file, log.tail(), lines.join('\n')]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('7781');
    }
    expect(file).toContain('token=*** end');
    expect(lines).toEqual(['token=*** end', '***', '***']);
  });

  test('a probe reports a missing program and its time limit as dibctl did', async () => {
    expect(await capture('no-such-program-dibctl', [])).toMatchObject({ code: null, error: 'not found' });
    const slow = await capture('/bin/sh', ['-c', 'echo begun; sleep 300'], { timeoutMs: 300 });
    expect(slow).toMatchObject({ code: null, stdout: 'begun\n', error: 'timed out after 300 ms' });
  });
});

describe('publish commands run through the process runner', () => {
  const authUrl = 'http://127.0.0.1:9/v3';
  const password = 'Zq-upload-pw-5521-Xv';

  function configure(name: string, lines: string[]): { cwd: string } {
    const cwd = fs.mkdtempSync(path.join(dir, `${name}-`));
    fs.writeFileSync(path.join(cwd, 'base.qcow2'), 'not really an image\n');
    fs.writeFileSync(path.join(cwd, 'images.yaml'), ['base:', '  filename: base.qcow2', ''].join('\n'));
    fs.writeFileSync(
      path.join(cwd, 'upload.yaml'),
      [
        'env:',
        '  keystone:',
        `    auth_url: ${authUrl}`,
        '    username: admin',
        `    password: ${password}`,
        '    project_name: admin',
        '    user_domain_name: Default',
        '    project_domain_name: Default',
        ...lines,
        '',
      ].join('\n'),
    );
    return { cwd };
  }

  test('cancelling a preprocessing step mid-run leaves none of its processes behind', async () => {
    const pids = path.join(dir, 'preprocessing.pids');
    const config = configure('pre', [
      '  preprocessing:',
      `    cmdline: "${twoSleeps(pids)}"`,
      '    output_filename: "%(input_filename)s.raw"',
    ]);
    const acts = createPublishActivities({ env: process.env });
    const env = new MockActivityEnvironment();
    const run = env
      .run(acts.prepareUpload, { imageLabel: 'base', environment: 'env', config })
      .catch((e: unknown) => e);
    const [leader, background] = await pidsFrom(pids);
    expect(running(background)).toBe(true);
    env.cancel();
    const err = await run;
    // what the step reported before the runner: a failed preprocessing whose output says it was cancelled
    expect(err).toMatchObject({
      message: expect.stringMatching(/^Preprocessing failed \(exit null\): .*\ncancelled$/),
      details: [{ exitCode: 18 }],
    });
    expect(await until(() => liveMembers(leader).length === 0)).toBe(true);
    expect(running(background)).toBe(false);
  });

  test("an external upload command's output reaches the error message without the password it was given", async () => {
    const config = configure('external', [
      '  external_upload:',
      '    - cmdline: "echo uploading %(name)s as $OS_USERNAME:$OS_PASSWORD; exit 5"',
    ]);
    const acts = createPublishActivities({ env: process.env });
    const err = (await new MockActivityEnvironment()
      .run(acts.prepareUpload, { imageLabel: 'base', environment: 'env', config })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('External upload command failed (exit 5)');
    expect(err.message).toContain('uploading base as admin:***');
    expect(err.message).not.toContain(password);
  });
});
