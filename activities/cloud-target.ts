/**
 * Where a cloud's credentials lead, without the client that reaches it: the
 * CLI computes it before anything starts, the worker compares it.
 */
import type { CloudAuth } from '../openstack';

/**
 * Where an environment's credentials lead, as the command that started the
 * workflow resolved them: the Keystone URL, the region and the project (id or
 * name, with its domain). Never a secret. A worker that resolves the same
 * environment to anything else refuses to act.
 */
export interface CloudTarget {
  authUrl: string;
  region?: string;
  project?: string;
  projectDomain?: string;
}

/** The target resolved credentials lead to. */
export function targetOf(auth: CloudAuth): CloudTarget {
  const project = auth.projectId ?? auth.projectName;
  const projectDomain = auth.projectDomainId ?? auth.projectDomainName;
  return {
    authUrl: auth.authUrl.replace(/\/+$/, ''),
    ...(auth.regionName ? { region: auth.regionName } : {}),
    ...(project ? { project } : {}),
    ...(projectDomain ? { projectDomain } : {}),
  };
}
