import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { workerHostname } from '../../worker/worker';

const root = path.resolve(__dirname, '..', '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<
    string,
    {
      image?: string;
      build?: { context: string; dockerfile: string };
      depends_on?: Record<string, unknown>;
      environment?: Record<string, string>;
      init?: boolean;
    }
  >;
  volumes?: Record<string, unknown>;
};

/** The Compose Specification's JSON Schema, from the compose-go module (Go module proxy). */
function composeSchema(): object | undefined {
  try {
    const out = execFileSync('go', ['mod', 'download', '-json', 'github.com/compose-spec/compose-go/v2@v2.4.8'], {
      cwd: '/',
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const dir = (JSON.parse(out) as { Dir: string }).Dir;
    return JSON.parse(readFileSync(path.join(dir, 'schema', 'compose-spec.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

const schema = composeSchema();

describe('docker-compose.yml (no Docker engine here: checked statically)', () => {
  const withSchema = schema ? it : it.skip;
  withSchema('is valid against the Compose Specification schema (skipped when Go cannot fetch compose-go)', () => {
    const { $schema: _draft, ...body } = schema as Record<string, unknown>;
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(body);
    const ok = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  withSchema('the schema check rejects a misspelled service key (so the check above can fail)', () => {
    const { $schema: _draft, ...body } = schema as Record<string, unknown>;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(body);
    const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.temporal.enviroment = { DB: 'postgres12' };
    expect(validate(broken)).toBe(false);
  });

  it('runs Temporal on PostgreSQL, the Web UI, and a worker built from this repository', () => {
    const s = compose.services;
    expect(s.postgresql.image).toMatch(/^postgres:/);
    expect(s.temporal.image).toBe('temporalio/auto-setup:1.29.1');
    expect(s.temporal.environment?.DB).toBe('postgres12');
    expect(s['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
    expect(s['dibctl-worker'].build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(s['dibctl-worker'].environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    // PID 1 of the worker's container is an init that reaps orphans, not Node
    expect(s['dibctl-worker'].init).toBe(true);
    // a fixed host name: the worker's host queue does not change with each new container
    const hostname = s['dibctl-worker'].environment?.DIBCTL_HOSTNAME;
    expect(hostname && workerHostname({ DIBCTL_HOSTNAME: hostname })).toBe('dibctl-worker');
  });

  it('every depends_on names a defined service', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) {
        expect([name, dep, Boolean(compose.services[dep])]).toEqual([name, dep, true]);
      }
    }
  });

  it('holds no secret: the database password comes from .env and is documented', () => {
    const text = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
    const vars = [...text.matchAll(/\$\{([A-Z_]+)[:?-]/g)].map((m) => m[1]);
    expect(vars).toContain('TEMPORAL_DB_PASSWORD');
    const example = readFileSync(path.join(root, 'deploy', 'env.example'), 'utf8');
    for (const v of new Set(vars)) expect(example).toMatch(new RegExp(`^${v}=$`, 'm'));
    expect(readFileSync(path.join(root, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });

  it('the Dockerfile copies only files that exist and runs the dibctl entry point', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    for (const m of dockerfile.matchAll(/^COPY (.+) \S+$/gm)) {
      for (const src of m[1].split(/\s+/)) expect([src, existsSync(path.join(root, src))]).toEqual([src, true]);
    }
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/opt\/dibctl\/bin\/dibctl\.js"\]/);
    expect(existsSync(path.join(root, 'bin', 'dibctl.js'))).toBe(true);
  });
});
