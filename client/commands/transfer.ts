/**
 * `transfer UUID (--src-env ENV | --src-cloud NAME) (--dst-env ENV | --dst-cloud NAME)
 * [--ignore-meta] [--ignore-membership]`: copy an image between clouds.
 * Clouds are named by upload environment label or clouds.yaml cloud, so no
 * credential travels through Temporal.
 */
import { CloudEndpoint, authOf } from '../../activities/endpoint-auth';
import { commandWorkflowIds } from '../../common/ids';
import { credentialsUsedLine, loadUploadEnvironment, resolveCredentials } from '../../config';
import { DibctlError, ExitCode } from '../../errors';
import { liveView } from '../live-view';
import { Output, formatBytes, printJson } from '../render';
import type { Session } from '../session';
import { ConfigFileOptions, configLocation, resultWithProgress, shortId } from './publish';

export interface TransferOptions extends ConfigFileOptions {
  srcEnv?: string;
  srcCloud?: string;
  dstEnv?: string;
  dstCloud?: string;
  ignoreMeta?: boolean;
  ignoreMembership?: boolean;
}

function endpoint(
  side: 'src' | 'dst',
  env: string | undefined,
  cloud: string | undefined,
  opts: ConfigFileOptions,
  o: Output,
): CloudEndpoint {
  if (Boolean(env) === Boolean(cloud))
    throw new DibctlError(`Give exactly one of --${side}-env ENV or --${side}-cloud NAME`, ExitCode.USAGE);
  const config = configLocation(opts);
  if (env) {
    loadUploadEnvironment(env, { ...config, onWarning: o.err });
    o.err(credentialsUsedLine(resolveCredentials('upload', env, config)));
    return { environment: env, config };
  }
  return { cloud: cloud!, config };
}

/**
 * Both ends of a transfer, checked before any session: options (2), config (10, 11),
 * credentials (12). A clouds.yaml cloud is resolved by the worker: here too when the
 * worker certainly runs in this process (workerHere), else by `checkCredentials`
 * once a session runs its worker here.
 */
export function prepareTransfer(
  opts: TransferOptions,
  o: Output,
  workerHere: boolean,
): { source: CloudEndpoint; destination: CloudEndpoint; checkCredentials: () => void } {
  const source = endpoint('src', opts.srcEnv, opts.srcCloud, opts, o);
  const destination = endpoint('dst', opts.dstEnv, opts.dstCloud, opts, o);
  const checkCredentials = () => {
    for (const end of [source, destination]) if ('cloud' in end) authOf(end, process.env);
  };
  if (workerHere) checkCredentials();
  return { source, destination, checkCredentials };
}

export async function transfer(
  session: Session,
  imageId: string,
  { source, destination }: ReturnType<typeof prepareTransfer>,
  opts: TransferOptions,
  o: Output,
): Promise<number> {
  const { transferWorkflow } = await import('../../workflows');
  const handle = await session.client.workflow.start(transferWorkflow, {
    taskQueue: session.taskQueue,
    workflowId: commandWorkflowIds.transfer(imageId, shortId()),
    args: [
      {
        source,
        destination,
        imageId,
        ignoreMeta: Boolean(opts.ignoreMeta),
        ignoreMembership: Boolean(opts.ignoreMembership),
      },
    ],
  });
  const to = 'environment' in destination ? destination.environment : destination.cloud;
  const view = liveView(o, `dibctl transfer ${imageId}`, [{ title: 'copy', matches: /^copying / }], {
    interrupts: 'exit',
  });
  const r = await resultWithProgress(
    session,
    handle,
    o,
    () => `Copying ${imageId}`,
    'transferImage',
    view && { view, barLabel: to },
  );
  if (o.json) printJson(o, r);
  else {
    o.out(
      `Image ${r.sourceId} copied as ${r.imageId} '${r.name}' (${r.reused ? 'already copied by an earlier attempt' : `${formatBytes(r.bytes)}, checksum verified`})`,
    );
    if (r.members.length) o.out(`Shared with ${r.members.join(', ')}`);
    for (const m of r.unmatchedMembers) o.err(`Member project ${m} has no match in the destination: not shared`);
  }
  return 0;
}
