import { setHandler, workflowInfo } from '@temporalio/workflow';
import type { CheckResult, HostInfo, HostTool } from '../activities';
import { doctorSteps } from './activity-options';
import { stageQuery } from './queries';

const short = doctorSteps();

interface DoctorInput {
  /** Directory where image files are built and read. */
  imageDir: string;
  minFreeBytes?: number;
  /** The tools to check (default: those every lifecycle host is asked about). */
  tools?: HostTool[];
}

export interface DoctorReport {
  workflowId: string;
  taskQueue: string;
  host: HostInfo;
  checks: CheckResult[];
}

const TOOLS: HostTool[] = ['disk-image-create', 'qemu-img', 'ssh', 'python3', 'pytest', 'testinfra'];

/** Checks on the worker host what an image lifecycle needs there. */
export async function doctorWorkflow(input: DoctorInput): Promise<DoctorReport> {
  let stage = 'asking the worker host';
  setHandler(stageQuery, () => stage);

  const host = await short.hostInfo();
  stage = `checking ${host.hostname}`;
  const checks = await Promise.all([
    ...(input.tools ?? TOOLS).map((tool) => short.checkHostTool({ tool })),
    short.checkDiskSpace({ dir: input.imageDir, minFreeBytes: input.minFreeBytes }),
  ]);
  stage = 'done';
  const info = workflowInfo();
  return { workflowId: info.workflowId, taskQueue: info.taskQueue, host, checks };
}
