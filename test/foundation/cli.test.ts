import { freePort } from '../../temporal/free-port';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';
import { doctorWorkflow } from '../../workflows';
import { localHostQueue, workerHostname } from '../../worker/worker';

describe('dibctl command line', () => {
  it('--help lists the commands and exits 0', async () => {
    const r = await runDibctl(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['doctor', 'server', 'worker', 'status']) expect(r.stdout).toContain(cmd);
  });

  it('an unknown command exits 2 (a usage error, as with argparse) with a clear message', async () => {
    const r = await runDibctl(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('an unknown option exits 2 with a clear message', async () => {
    const r = await runDibctl(['doctor', '--frob']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frob'");
  });

  it('an unreachable TEMPORAL_ADDRESS gives one line naming it and the next step, exit 1, no stack trace', async () => {
    const port = await freePort();
    const r = await runDibctl(['doctor'], { env: cleanTemporalEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }) });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^Error: Cannot reach the Temporal server at 127\\.0\\.0\\.1:${port}: `));
    expect(lines[1]).toBe(
      "Next step: start it ('dibctl server' runs one on this host), or set TEMPORAL_ADDRESS to a server that runs",
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('DIBCTL_HOSTNAME names the host queue; one that cannot name a queue is refused before connecting, exit 2', async () => {
    expect(workerHostname({ DIBCTL_HOSTNAME: 'build-01.example' })).toBe('build-01.example');
    expect(workerHostname({ DIBCTL_HOSTNAME: '' })).toBe(workerHostname({}));
    const before = process.env.DIBCTL_HOSTNAME;
    process.env.DIBCTL_HOSTNAME = 'host-a';
    try {
      expect(localHostQueue('dibctl')).toBe('dibctl@host-a');
    } finally {
      if (before === undefined) delete process.env.DIBCTL_HOSTNAME;
      else process.env.DIBCTL_HOSTNAME = before;
    }
    const port = await freePort();
    const r = await runDibctl(['worker'], {
      env: cleanTemporalEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${port}`, DIBCTL_HOSTNAME: 'a@b:1' }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      "Error: DIBCTL_HOSTNAME 'a@b:1': must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit\n" +
        'Next step: give DIBCTL_HOSTNAME a name such as build-01, or unset it to use the system host name',
    );
  });

  it('an invalid port option exits 2', async () => {
    const r = await runDibctl(['server', '--port', '70000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be a port number');
  });
});

describe('dibctl doctor end to end', () => {
  it('with nothing configured, starts an ephemeral server and worker, prints the table, exits 0', async () => {
    const nobody = await freePort();
    const r = await runDibctl(['doctor'], { env: cleanTemporalEnv({ DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${nobody}` }) });
    expect(r.stderr).toContain('starting an ephemeral one');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Temporal: 127\.0\.0\.1:\d+ \(namespace default, embedded\)/);
    expect(r.stdout).toMatch(/^check\s+status\s+detail\s+needed for$/m);
    expect(r.stdout).toMatch(/^ssh\s+(ok|MISSING)/m);
  });

  describe('against a configured server', () => {
    const temporal = useTemporal();

    it('runs an in-process worker when none polls, and --json gives the report', async () => {
      const r = await runDibctl(['--json', 'doctor'], {
        env: cleanTemporalEnv({ TEMPORAL_ADDRESS: temporal().server.address }),
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("No worker polls task queue 'dibctl'");
      const report = JSON.parse(r.stdout);
      expect(report.temporal).toEqual({ address: temporal().server.address, namespace: 'default', mode: 'configured' });
      // the tools every host is asked about (10) and the disk space
      expect(report.checks.length).toBe(11);
      const history = await temporal().client.workflow.getHandle(report.workflowId).fetchHistory();
      expect(history.events?.length).toBeGreaterThan(5);
    });

    it('finds a server on the local address when none is configured, and status shows the workflow', async () => {
      const env = cleanTemporalEnv({ DIBCTL_LOCAL_TEMPORAL: temporal().server.address });
      const r = await runDibctl(['--json', 'doctor'], { env });
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.temporal.mode).toBe('local');
      const s = await runDibctl(['--json', 'status', report.workflowId], { env });
      expect(s.code).toBe(0);
      expect(JSON.parse(s.stdout)).toMatchObject({
        workflowId: report.workflowId,
        type: doctorWorkflow.name,
        status: 'COMPLETED',
      });
    });

    it('--no-local-worker with nobody polling fails clearly', async () => {
      const env = cleanTemporalEnv({ TEMPORAL_ADDRESS: temporal().server.address });
      const r = await runDibctl(['--no-local-worker', 'doctor'], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("No worker polls task queue 'dibctl'");
      expect(r.stderr).toMatch(/^Next step: start one with 'dibctl worker' .*or leave out --no-local-worker$/m);
    });

    it('status of an unknown workflow exits 1 naming it', async () => {
      const r = await runDibctl(['status', 'no-such-workflow'], {
        env: cleanTemporalEnv({ TEMPORAL_ADDRESS: temporal().server.address }),
      });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        "Error: No workflow with id 'no-such-workflow' in namespace default",
        expect.stringMatching(/^Next step: 'dibctl list' shows the lifecycles' ids/),
      ]);
    });
  });
});
