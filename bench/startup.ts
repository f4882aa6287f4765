/**
 * Start-up bench: `dibctl --help` and `dibctl validate` of a small config, each
 * against starting Node itself (`node -e ''`) in the same run. Neither loads the
 * Temporal SDK, the worker or the emulator.
 */
import { configTree } from './configs';
import { BenchRow, alternate, nodeStart, timeDibctl } from './support';

export async function startupBench(rounds: number): Promise<BenchRow[]> {
  const tree = configTree();
  try {
    const opts = { cwd: tree.dir, env: tree.env };
    const help = await alternate(rounds, () => timeDibctl(['--help'], 0, opts), nodeStart);
    const validate = await alternate(rounds, () => timeDibctl(['validate'], 0, opts), nodeStart);
    return [
      {
        bench: 'dibctl --help',
        figure: help.figure,
        reference: "node -e ''",
        referenceFigure: help.reference,
        target: '≤ 0.3 s',
      },
      {
        bench: 'dibctl validate (3 small files)',
        figure: validate.figure,
        reference: "node -e ''",
        referenceFigure: validate.reference,
        target: '≤ 0.3 s',
      },
    ];
  } finally {
    tree.remove();
  }
}
