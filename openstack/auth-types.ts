/**
 * What the OpenStack client needs to authenticate: resolved from a test or
 * upload environment's `keystone` section, `OS_*` variables and clouds.yaml.
 * Resolved on the worker, never carried in workflow inputs or results.
 */
export interface CloudAuth {
  authUrl: string;
  /** Forced Keystone version; discovered from authUrl when absent. */
  identityApiVersion?: '2.0' | '3';
  username?: string;
  userId?: string;
  password?: string;
  projectName?: string;
  projectId?: string;
  userDomainName?: string;
  userDomainId?: string;
  projectDomainName?: string;
  projectDomainId?: string;
  applicationCredentialId?: string;
  applicationCredentialName?: string;
  applicationCredentialSecret?: string;
  regionName?: string;
  interface?: 'public' | 'internal' | 'admin';
  cacert?: string;
  insecure?: boolean;
  /** glance.endpoint etc. */
  endpointOverrides?: { image?: string; compute?: string; network?: string };
}
