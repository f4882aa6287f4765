/** Fault knobs: the ways a test can make the emulated cloud misbehave. */
import { ServiceName } from './http';

export type ApiService = Exclude<ServiceName, 'emulator'>;

export interface FaultSettings {
  /** Added before every API answer, in milliseconds. */
  latencyMs: number;
  /** Share (0..1) of API requests answered with 503 instead of being served. */
  errorRate: number;
  /** Limit errorRate to these services (all when empty). */
  errorServices: ApiService[];
  /** Limit errorRate to these regions (all when empty; Keystone has no region). */
  errorRegions: string[];
  /** Every request to these regions' Glance, Nova and Neutron endpoints is answered 503. */
  failingRegions: string[];
  /** The next N server boots end in ERROR with a fault. */
  bootErrors: number;
  /** Boots whose server name matches this regular expression end in ERROR. */
  bootErrorNamePattern: string | null;
  /** The message of the fault an ERROR boot reports. */
  bootErrorMessage: string;
  /** How long a server stays in BUILD before becoming ACTIVE (or ERROR), in milliseconds. */
  bootDelayMs: number;
  /** Servers booted while this is set never open their SSH port. */
  sshNeverOpens: boolean;
  /** Servers whose name matches never open their SSH port. */
  sshNeverOpensNamePattern: string | null;
  /**
   * Servers whose SSH endpoint starts while this is set present host keys
   * other than those their console log prints, as another machine answering
   * at their address would.
   */
  sshWrongHostKey: boolean;
  /** Servers whose name matches present host keys other than those their console log prints. */
  sshWrongHostKeyNamePattern: string | null;
  /** Servers becoming ACTIVE while this is set print no host keys on their console (an image whose cloud-init does not). */
  consoleOmitsHostKeys: boolean;
  /**
   * Servers becoming ACTIVE print cloud-init's final stage (the host keys and
   * `Cloud-init ... finished`) this long afterwards, in milliseconds, as real
   * guests do late in boot, after their SSH server already answers.
   */
  consoleHostKeysDelayMs: number;
  /** Image uploads are throttled to this many bytes per second (0: unthrottled). */
  uploadBytesPerSecond: number;
  /** The next N image uploads stop reading their data for `uploadStallMs` (a Glance or network that hangs). */
  uploadStalls: number;
  /** How long a stalled upload reads nothing, in milliseconds. */
  uploadStallMs: number;
  /** A stalled upload stops reading once it has received this many bytes. */
  uploadStallAfterBytes: number;
  /**
   * Servers (by id) in a Nova cell that is down. Server lists at microversion
   * 2.69 or later without filters, sort or paging show each with status
   * UNKNOWN and no image or flavor; every other list leaves them out, as Nova does.
   */
  downCellServers: string[];
  /** Server lists answer a `next` link to the page just served (a proxy that rewrites links wrongly). */
  serversNextLinkRepeats: boolean;
  /**
   * Images (by id) whose delete Glance answers 409 because the store still
   * uses them (as Ceph does for an image with clones); they are not deleted.
   */
  imageDeleteConflicts: string[];
  /**
   * Listing a server's interfaces (os-interface) is refused with 403, as by a
   * cloud whose policy keeps os_compute_api:os-attach-interfaces:list from users.
   */
  interfaceListForbidden: boolean;
}

function defaultFaults(): FaultSettings {
  return {
    latencyMs: 0,
    errorRate: 0,
    errorServices: [],
    errorRegions: [],
    failingRegions: [],
    bootErrors: 0,
    bootErrorNamePattern: null,
    bootErrorMessage: 'No valid host was found. There are not enough hosts available.',
    bootDelayMs: 300,
    sshNeverOpens: false,
    sshNeverOpensNamePattern: null,
    sshWrongHostKey: false,
    sshWrongHostKeyNamePattern: null,
    consoleOmitsHostKeys: false,
    consoleHostKeysDelayMs: 0,
    uploadBytesPerSecond: 0,
    uploadStalls: 0,
    uploadStallMs: 60_000,
    uploadStallAfterBytes: 0,
    downCellServers: [],
    serversNextLinkRepeats: false,
    imageDeleteConflicts: [],
    interfaceListForbidden: false,
  };
}

const SERVICES: ApiService[] = ['identity', 'image', 'compute', 'network'];

/** Checks a partial settings object coming from code or from the HTTP knob endpoint. */
export function validateFaults(input: Record<string, unknown>): Partial<FaultSettings> {
  const out: Partial<FaultSettings> = {};
  const defaults = defaultFaults();
  for (const [key, value] of Object.entries(input)) {
    if (!(key in defaults)) throw new Error(`unknown fault setting '${key}'`);
    const k = key as keyof FaultSettings;
    const expected = defaults[k];
    if (k === 'bootErrorNamePattern' || k === 'sshNeverOpensNamePattern' || k === 'sshWrongHostKeyNamePattern') {
      if (value !== null && typeof value !== 'string') throw new Error(`${k} must be a string or null`);
      if (typeof value === 'string') new RegExp(value); // throws on a bad pattern
      out[k] = value;
    } else if (Array.isArray(expected)) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
        throw new Error(`${k} must be a list of strings`);
      if (k === 'errorServices' && !value.every((v) => SERVICES.includes(v as ApiService))) {
        throw new Error(`errorServices must name services among ${SERVICES.join(', ')}`);
      }
      (out as Record<string, unknown>)[k] = value;
    } else if (typeof expected === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
        throw new Error(`${k} must be a non-negative number`);
      if (k === 'errorRate' && value > 1) throw new Error('errorRate must be between 0 and 1');
      (out as Record<string, unknown>)[k] = value;
    } else if (typeof expected === 'boolean') {
      if (typeof value !== 'boolean') throw new Error(`${k} must be true or false`);
      (out as Record<string, unknown>)[k] = value;
    } else if (typeof value !== 'string') {
      throw new Error(`${k} must be a string`);
    } else {
      (out as Record<string, unknown>)[k] = value;
    }
  }
  return out;
}

/** The live knobs. Changes apply to the next request or boot. */
export class Faults {
  private settings: FaultSettings = defaultFaults();

  /** Changes some knobs; throws on an unknown knob or a wrong type. */
  set(changes: Partial<FaultSettings>): FaultSettings {
    this.settings = { ...this.settings, ...validateFaults(changes as Record<string, unknown>) };
    return this.current();
  }

  /** Back to a well-behaved cloud. */
  reset(): FaultSettings {
    this.settings = defaultFaults();
    return this.current();
  }

  current(): FaultSettings {
    return JSON.parse(JSON.stringify(this.settings)) as FaultSettings;
  }

  get<K extends keyof FaultSettings>(k: K): FaultSettings[K] {
    return this.settings[k];
  }

  /** Decides whether this request is answered with an injected 503. */
  shouldFail(service: ApiService, region: string | undefined): boolean {
    const s = this.settings;
    if (region && service !== 'identity' && s.failingRegions.includes(region)) return true;
    if (s.errorRate <= 0) return false;
    if (s.errorServices.length && !s.errorServices.includes(service)) return false;
    if (s.errorRegions.length && (!region || !s.errorRegions.includes(region))) return false;
    return Math.random() < s.errorRate;
  }

  /** Decides (and consumes) whether a boot of this server ends in ERROR. */
  takeBootError(name: string): boolean {
    const s = this.settings;
    if (s.bootErrorNamePattern && new RegExp(s.bootErrorNamePattern).test(name)) return true;
    if (s.bootErrors > 0) {
      s.bootErrors -= 1;
      return true;
    }
    return false;
  }

  /** Decides (and consumes) whether this upload stalls; how long and after how many bytes. */
  takeUploadStall(): { ms: number; afterBytes: number } | undefined {
    const s = this.settings;
    if (s.uploadStalls <= 0) return undefined;
    s.uploadStalls -= 1;
    return { ms: s.uploadStallMs, afterBytes: s.uploadStallAfterBytes };
  }

  sshBlocked(name: string): boolean {
    const s = this.settings;
    return s.sshNeverOpens || Boolean(s.sshNeverOpensNamePattern && new RegExp(s.sshNeverOpensNamePattern).test(name));
  }

  /** Whether the SSH endpoint of this server, starting now, presents someone else's host keys. */
  sshImpostor(name: string): boolean {
    const s = this.settings;
    return (
      s.sshWrongHostKey || Boolean(s.sshWrongHostKeyNamePattern && new RegExp(s.sshWrongHostKeyNamePattern).test(name))
    );
  }
}
