/**
 * Early-error bench: how long an operator waits for a config, label or
 * credentials error, against starting Node itself (`node -e ''`). With nothing
 * configured, none of them starts a Temporal server or a worker.
 */
import * as net from 'node:net';
import { configTree } from './configs';
import { BenchRow, alternate, nodeStart, timeDibctl } from './support';

/** A loopback port nothing listens on. */
function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function earlyErrorsBench(rounds: number): Promise<BenchRow[]> {
  const tree = configTree();
  try {
    // nothing configured and nothing local: a session here would start an ephemeral server
    const opts = { cwd: tree.dir, env: { ...tree.env, DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${await deadPort()}` } };
    const cases: Array<[string, string[], number]> = [
      ['dibctl test: missing credentials (exit 12)', ['test', 'img'], 12],
      [
        'dibctl run: missing credentials (exit 12)',
        ['run', 'img', '--no-build', '--no-test', '--upload-env', 'prod'],
        12,
      ],
      ['dibctl upload: unknown label (exit 11)', ['upload', 'nope', 'prod'], 11],
      ['dibctl build: config error (exit 10)', ['build', 'img', '--images-config', 'missing.yaml'], 10],
    ];
    const rows: BenchRow[] = [];
    for (const [bench, args, code] of cases) {
      const m = await alternate(rounds, () => timeDibctl(args, code, opts), nodeStart);
      rows.push({ bench, figure: m.figure, reference: "node -e ''", referenceFigure: m.reference, target: '≤ 0.5 s' });
    }
    return rows;
  } finally {
    tree.remove();
  }
}
