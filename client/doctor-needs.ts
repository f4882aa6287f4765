/**
 * What the configured images need on the host that builds and tests them:
 * a `dib:` section needs disk-image-create, a `shell:` test the system ssh
 * (its $DIBCTL_SSH), a `pytest:` test python3 with pytest and its companions,
 * an `image:` test qemu-img (and guestfish for files_exist).
 */
import type { HostTool } from '../activities';
import { configFiles, loadImage, loadKind } from '../config';

const PYTEST_TOOLS: HostTool[] = ['python3', 'pytest', 'testinfra', 'paramiko', 'novaclient', 'glanceclient'];

/** Every tool `doctor` checks, in the order it shows them. */
export const DOCTOR_TOOLS: HostTool[] = ['disk-image-create', 'qemu-img', 'ssh', ...PYTEST_TOOLS, 'guestfish'];

export interface ImageNeeds {
  /** The images config files read; empty when there is none. */
  files: string[];
  /** Per tool, the image labels that need it. */
  byTool: Map<HostTool, string[]>;
}

export function imageNeeds(opts: { cwd: string; imagesConfig?: string }): ImageNeeds {
  const byTool = new Map<HostTool, string[]>();
  const explicit = opts.imagesConfig ? { explicitFile: opts.imagesConfig } : {};
  if (!configFiles('images', { cwd: opts.cwd, ...explicit }).length) return { files: [], byTool };
  const config = loadKind('images', { cwd: opts.cwd, imagesConfig: opts.imagesConfig });
  const need = (tool: HostTool, label: string) => {
    const labels = byTool.get(tool) ?? [];
    if (!labels.includes(label)) labels.push(label);
    byTool.set(tool, labels);
  };
  for (const label of config.entries.keys()) {
    const image = loadImage(label, { cwd: opts.cwd, imagesConfig: opts.imagesConfig });
    if (image.dib) need('disk-image-create', label);
    for (const t of image.tests.testsList) {
      if (t.kind === 'shell') need('ssh', label);
      else if (t.kind === 'pytest' || t.kind === 'generic') for (const tool of PYTEST_TOOLS) need(tool, label);
      else if (t.kind === 'image') {
        need('qemu-img', label);
        if (t.image?.filesExist?.length) need('guestfish', label);
      }
    }
  }
  return { files: config.files, byTool };
}
