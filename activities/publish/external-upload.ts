/**
 * external_upload: the environment's commands upload the image themselves
 * (dibctl's way to use another tool), with the environment's credentials in
 * the standard OS_* variables. Their output is scrubbed of those credentials.
 */
import type { CloudAuth } from '../../openstack';
import { authSecrets } from '../cloud';
import { ExternalCommandError, interpolateCommandLine, runUploadCommand } from './commands';

/** OS_* variables for external upload commands (the standard openstack client reads them). */
function openstackEnvironment(auth: CloudAuth): Record<string, string> {
  const pairs: Array<[string, string | undefined]> = [
    ['OS_AUTH_URL', auth.authUrl],
    ['OS_USERNAME', auth.username],
    ['OS_USER_ID', auth.userId],
    ['OS_PASSWORD', auth.password],
    ['OS_PROJECT_NAME', auth.projectName],
    ['OS_PROJECT_ID', auth.projectId],
    ['OS_USER_DOMAIN_NAME', auth.userDomainName],
    ['OS_PROJECT_DOMAIN_NAME', auth.projectDomainName],
    ['OS_REGION_NAME', auth.regionName],
    ['OS_INTERFACE', auth.interface],
    ['OS_CACERT', auth.cacert],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, string] => typeof p[1] === 'string' && p[1] !== ''));
}

interface ExternalUpload {
  environment: string;
  templates: string[];
  /** Placeholder values (input_filename, disk_format, ...). */
  values: Record<string, string>;
  /** The environment's credentials, given to the commands as OS_* (none without a keystone section). */
  auth?: CloudAuth;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/** Runs each external_upload command in order; the first failure stops the rest. */
export async function runExternalUpload(u: ExternalUpload): Promise<void> {
  const cmdEnv = { ...u.env, ...(u.auth ? openstackEnvironment(u.auth) : {}) };
  for (const template of u.templates) {
    const cmdline = interpolateCommandLine(template, u.values, `${u.environment}.external_upload`);
    const r = await runUploadCommand(cmdline, cmdEnv, u.cwd, { signal: u.signal, secrets: authSecrets(u.auth) });
    if (r.code !== 0)
      throw new ExternalCommandError(`External upload command failed (exit ${r.code}): ${cmdline}\n${r.output.trim()}`);
  }
}
