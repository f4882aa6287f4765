/**
 * docker-compose.yml and deploy/ are the one source of the deployment's
 * settings: the server config the cluster tier runs must be the one the compose
 * file's container runs, for the same Temporal version, namespace and search
 * attributes dibctl sets.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { DIBCTL_SEARCH_ATTRIBUTES } from '../../temporal/search-attributes';
import { COMPOSE_FILE, SERVER_CONFIG, composeSettings } from './compose';
import { TEMPORAL_SERVER_VERSION, missingParts, serverDir } from './cluster';

const run = promisify(execFile);
const missing = missingParts();
const describeIf = missing ? describe.skip : describe;
if (missing) process.stderr.write(`cluster tier skipped: ${missing}\n`);

/** The config a server renders from `file` with `env` (as `temporal-server render-config` prints it). */
async function rendered(file: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-render-'));
  try {
    fs.mkdirSync(path.join(root, 'config'));
    fs.copyFileSync(file, path.join(root, 'config', 'production.yaml'));
    const { stdout } = await run(
      path.join(serverDir, 'server'),
      ['--root', root, '--config', 'config', '--env', 'production', 'render-config'],
      { cwd: root, env: { PATH: process.env.PATH, ...env } },
    );
    return parse(stdout) as Record<string, unknown>;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** The `temporal` container's environment with the .env password filled in. */
function containerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(composeSettings().serverEnv))
    env[k] = v.replace(/\$\{TEMPORAL_DB_PASSWORD[^}]*\}/, 'password-from-env-file');
  return env;
}

describeIf('the deployment settings of docker-compose.yml and deploy/', () => {
  const compose = composeSettings();

  it('name the Temporal version the cluster tier builds and runs', async () => {
    expect(compose.serverImage).toMatch(/^temporalio\/(auto-setup|server):/);
    expect(compose.serverVersion).toBe(TEMPORAL_SERVER_VERSION);
    expect(compose.adminToolsVersion).toBe(TEMPORAL_SERVER_VERSION);
    const server = await run(path.join(serverDir, 'server'), ['--version']);
    expect(server.stdout).toContain(`version ${TEMPORAL_SERVER_VERSION}`);
    const sql = await run(path.join(serverDir, 'sql'), ['--version']);
    expect(sql.stdout).toContain(`version ${TEMPORAL_SERVER_VERSION}`);
  });

  it("render deploy/temporal-server.yaml exactly as the container image's own config, from the compose environment", async () => {
    const env = containerEnv();
    const ours = await rendered(SERVER_CONFIG, env);
    const container = await rendered(path.join(serverDir, 'docker.yaml'), env);
    expect(ours).toEqual(container);
    const persistence = ours.persistence as {
      numHistoryShards: number;
      datastores: Record<
        string,
        { sql: { pluginName: string; databaseName: string; connectAddr: string; user: string } }
      >;
    };
    expect(persistence.numHistoryShards).toBe(4);
    expect(persistence.datastores.default.sql).toMatchObject({
      pluginName: compose.serverEnv.DB,
      databaseName: 'temporal',
      connectAddr: `${compose.serverEnv.POSTGRES_SEEDS}:${compose.serverEnv.DB_PORT}`,
      user: compose.serverEnv.POSTGRES_USER,
    });
    expect(persistence.datastores.visibility.sql).toMatchObject({
      pluginName: compose.serverEnv.DB,
      databaseName: 'temporal_visibility',
    });
    // the port the compose file publishes and the workers dial is the frontend's
    const doc = parse(fs.readFileSync(COMPOSE_FILE, 'utf8')) as {
      services: Record<string, { ports?: string[]; environment?: Record<string, string> }>;
    };
    const published = doc.services.temporal.ports?.map((p) => p.split(':').pop());
    const services = ours.services as Record<string, { rpc: { grpcPort: number } }>;
    expect(published).toEqual([String(services.frontend.rpc.grpcPort)]);
    expect(doc.services['dibctl-worker'].environment?.TEMPORAL_ADDRESS).toBe(
      `temporal:${services.frontend.rpc.grpcPort}`,
    );
  });

  it('refuses a database other than PostgreSQL, naming the setting', async () => {
    await expect(rendered(SERVER_CONFIG, { ...containerEnv(), DB: 'mysql8' })).rejects.toThrow(
      /DB must be postgres12 or postgres12_pgx/,
    );
    await expect(rendered(SERVER_CONFIG, { ...containerEnv(), POSTGRES_SEEDS: '' })).rejects.toThrow(
      /POSTGRES_SEEDS must name the PostgreSQL host/,
    );
  });

  it("register on the worker's namespace the search attributes dibctl sets", () => {
    expect(compose.searchAttributes).toEqual(DIBCTL_SEARCH_ATTRIBUTES);
    expect(compose.setupCommand).toContain(`--namespace ${compose.namespace}`);
    expect(compose.namespace).toBe('default');
  });
});
