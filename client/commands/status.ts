/**
 * `status ID`: a lifecycle (or an image test, publish, retirement) as a tree
 * of its steps, each with its state, duration, what it holds and what the
 * operator can do next; `--json` gives the same tree.
 */
import { DibctlError, NO_SUCH_WORKFLOW_STEP } from '../../errors';
import { Output, printJson } from '../render';
import type { Session } from '../session';
import { renderTree, statusTree } from '../status-tree';

export async function status(session: Session, workflowId: string, o: Output): Promise<number> {
  const tree = await statusTree(session.client, workflowId);
  if (!tree)
    throw new DibctlError(`No workflow with id '${workflowId}' in namespace ${session.namespace}`, undefined, {
      nextStep: NO_SUCH_WORKFLOW_STEP,
    });
  if (o.json) printJson(o, tree);
  else for (const line of renderTree(tree)) o.out(line);
  return 0;
}
