/** The shared core of the emulated cloud: state, tokens, policy checks, persistence. */
import crypto from 'node:crypto';
import { Faults } from './faults';
import { HttpError, Request } from './http';
import { CloudState, Project, RegionState, Token, User, hexId, saveState } from './state';

export interface AuthContext {
  token: Token;
  user: User;
  project: Project;
  roles: string[];
  isAdmin: boolean;
}

interface CloudOptions {
  tokenTtlSeconds: number;
  stateFile?: string;
  dataDir: string;
}

export class Cloud {
  private saveTimer: NodeJS.Timeout | undefined;
  /** The URL clients reach us at (set once listening); catalog entries are built from it. */
  baseUrl = '';
  /** Called when a server's lifecycle changes (booted, deleted, rebooted). */
  onServerChange: (region: string, serverId: string, event: 'active' | 'deleted' | 'rebuilt') => void = () => undefined;

  constructor(
    public state: CloudState,
    readonly faults: Faults,
    readonly opts: CloudOptions,
  ) {}

  get regionNames(): string[] {
    return Object.keys(this.state.regions);
  }

  region(name: string): RegionState {
    const r = this.state.regions[name];
    if (!r) throw new HttpError(404, `The region ${name} is not served here.`);
    return r;
  }

  /**
   * Remembers that the state changed; persisted shortly after when a state file
   * is configured: 20 ms, or for a large state four times what writing it took
   * last, so that a cloud of many thousand objects spends most of its time
   * serving, not saving.
   */
  changed(): void {
    if (!this.opts.stateFile || this.saveTimer) return;
    this.saveTimer = setTimeout(
      () => {
        this.saveTimer = undefined;
        this.flush();
      },
      Math.max(20, 4 * this.lastSaveMs),
    );
  }

  private lastSaveMs = 0;

  flush(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
    }
    if (!this.opts.stateFile) return;
    const started = Date.now();
    saveState(this.opts.stateFile, this.state);
    this.lastSaveMs = Date.now() - started;
  }

  issueToken(user: User, project: Project | undefined, methods: string[], applicationCredentialId?: string): Token {
    const now = Date.now();
    // Expired tokens are forgotten when new ones are issued, so the state stays small
    this.state.tokens = this.state.tokens.filter((t) => Date.parse(t.expires_at) > now);
    const token: Token = {
      id: 'gAAAAA' + crypto.randomBytes(60).toString('base64url'),
      user_id: user.id,
      project_id: project?.id ?? '',
      methods,
      issued_at: new Date(now).toISOString().replace('Z', '000Z'),
      expires_at: new Date(now + this.opts.tokenTtlSeconds * 1000).toISOString().replace('Z', '000Z'),
      audit_id: crypto.randomBytes(16).toString('base64url').slice(0, 22),
      ...(applicationCredentialId ? { application_credential_id: applicationCredentialId } : {}),
    };
    this.state.tokens.push(token);
    this.changed();
    return token;
  }

  /** Resolves a token id to who holds it; undefined when unknown or expired. */
  resolveToken(id: string | undefined): AuthContext | undefined {
    if (!id) return undefined;
    const token = this.state.tokens.find((t) => t.id === id);
    if (!token || Date.parse(token.expires_at) <= Date.now()) return undefined;
    const user = this.state.users.find((u) => u.id === token.user_id);
    const project = this.state.projects.find((p) => p.id === token.project_id);
    if (!user || !project || !user.enabled) return undefined;
    const roles = this.rolesOf(user.id, project.id);
    return { token, user, project, roles, isAdmin: roles.includes('admin') };
  }

  /** The caller of an API request, or a 401 (raised in the service's own shape). */
  authenticate(req: Request): AuthContext {
    const header = req.headers['x-auth-token'];
    const ctx = this.resolveToken(Array.isArray(header) ? header[0] : header);
    if (!ctx) throw new HttpError(401, 'The request you have made requires authentication.');
    return ctx;
  }

  rolesOf(userId: string, projectId: string): string[] {
    return this.state.role_assignments
      .filter((a) => a.user_id === userId && a.project_id === projectId)
      .map((a) => this.state.roles.find((r) => r.id === a.role_id)?.name)
      .filter((n): n is string => Boolean(n));
  }

  newId(): string {
    return hexId();
  }
}
