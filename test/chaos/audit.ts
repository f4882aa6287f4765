/**
 * The audit after a chaos run: what the cloud holds, compared with what it
 * held before plus what the run was meant to leave (one published image per
 * region), and the key files left on the worker host.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CloudState } from '../../emulator';

export interface AuditCounts {
  leakedServers: number;
  leakedKeypairs: number;
  /** Test images (`DIBCTL-` names or a test build id) still in Glance. */
  leakedTestImages: number;
  /** Published images beyond one per build and region, or beyond one new current image of the name. */
  duplicatePublished: number;
  /** Seeded images that a server uses or that are protected, and are gone. */
  usedOrProtectedDeleted: number;
  /** Private keys of finished tests still on the worker host. */
  leakedKeyFiles: number;
  /** Regions where no active image of the name is current (every copy obsolete or gone). */
  regionsWithoutCurrent: number;
}

export const COUNT_LABELS: Record<keyof AuditCounts, string> = {
  leakedServers: 'leaked servers',
  leakedKeypairs: 'leaked keypairs',
  leakedTestImages: 'leaked test images',
  duplicatePublished: 'duplicate published images',
  usedOrProtectedDeleted: 'used or protected images deleted',
  leakedKeyFiles: 'leaked key files',
  regionsWithoutCurrent: 'regions without a current image',
};

export function zeroCounts(): AuditCounts {
  return {
    leakedServers: 0,
    leakedKeypairs: 0,
    leakedTestImages: 0,
    duplicatePublished: 0,
    usedOrProtectedDeleted: 0,
    leakedKeyFiles: 0,
    regionsWithoutCurrent: 0,
  };
}

/** What a region held before the run: these must all still exist afterwards (except the unused old copy). */
export interface RegionSeed {
  region: string;
  /** An older published copy a server boots from: obsoleted by the run, never deleted. */
  usedImage: string;
  /** An older published copy that is protected: obsoleted by the run, never deleted. */
  protectedImage: string;
  /** An older unused copy: retirement may delete it. */
  unusedImage: string;
  server: string;
}

interface AuditInput {
  state: CloudState;
  seeds: RegionSeed[];
  /** Glance name of the published image. */
  imageName: string;
  /** md5 of the image file. */
  checksum: string;
  /** DIBCTL_STATE_DIR of the workers. */
  stateDir: string;
}

interface RegionAudit {
  region: string;
  /** Current (not obsolete) active images of the name with the file's checksum. */
  published: string[];
  /** Seeded older copies now marked obsolete. */
  obsoleted: number;
  /** The unused older copy was deleted by retirement. */
  retired: boolean;
}

export interface AuditResult {
  counts: AuditCounts;
  regions: RegionAudit[];
  /** Human-readable findings behind each non-zero count. */
  findings: string[];
}

const isTrue = (v: unknown) => String(v).toLowerCase() === 'true';

function keyFiles(stateDir: string): string[] {
  const base = path.join(stateDir, 'instances');
  if (!fs.existsSync(base)) return [];
  const out: string[] = [];
  for (const d of fs.readdirSync(base)) {
    for (const f of ['id_ed25519', 'id_rsa']) {
      const p = path.join(base, d, f);
      if (fs.existsSync(p)) out.push(p);
    }
  }
  return out;
}

export function auditCloud(input: AuditInput): AuditResult {
  const counts = zeroCounts();
  const findings: string[] = [];
  const regions: RegionAudit[] = [];
  for (const seed of input.seeds) {
    const r = input.state.regions[seed.region];
    const servers = r.servers.filter((s) => s.id !== seed.server);
    counts.leakedServers += servers.length;
    for (const s of servers) findings.push(`${seed.region}: server ${s.name} (${s.id}, ${s.status}) left behind`);
    counts.leakedKeypairs += r.keypairs.length;
    for (const k of r.keypairs) findings.push(`${seed.region}: keypair ${k.name} left behind`);

    const testImages = r.images.filter(
      (i) => (i.name ?? '').startsWith('DIBCTL-') || /\/test$/.test(i.properties.dibctl_build_id ?? ''),
    );
    counts.leakedTestImages += testImages.length;
    for (const i of testImages)
      findings.push(`${seed.region}: test image ${i.name} (${i.id}, ${i.status}) left behind`);

    const published = r.images.filter((i) => !testImages.includes(i) && i.properties.dibctl_build_id);
    const byBuild = new Map<string, number>();
    for (const i of published)
      byBuild.set(i.properties.dibctl_build_id, (byBuild.get(i.properties.dibctl_build_id) ?? 0) + 1);
    let extraByBuild = 0;
    for (const [build, n] of byBuild) {
      if (n > 1) {
        extraByBuild += n - 1;
        findings.push(`${seed.region}: ${n} images carry build id ${build}`);
      }
    }
    const seeded = new Set([seed.usedImage, seed.protectedImage, seed.unusedImage]);
    const current = r.images.filter(
      (i) => i.name === input.imageName && !isTrue(i.properties.obsolete) && !seeded.has(i.id),
    );
    const extraCurrent = Math.max(0, current.length - 1);
    if (extraCurrent)
      findings.push(
        `${seed.region}: ${current.length} current images named '${input.imageName}': ${current.map((i) => `${i.id} (${i.status})`).join(', ')}`,
      );
    counts.duplicatePublished += Math.max(extraByBuild, extraCurrent);

    // whatever happened (even a publish that failed), the name must keep a current image
    const anyCurrent = r.images.filter(
      (i) => i.name === input.imageName && !isTrue(i.properties.obsolete) && i.status === 'active',
    );
    if (!anyCurrent.length) {
      counts.regionsWithoutCurrent += 1;
      findings.push(`${seed.region}: no current image named '${input.imageName}' is left`);
    }

    const ids = new Set(r.images.map((i) => i.id));
    for (const [what, id] of [
      ['used', seed.usedImage],
      ['protected', seed.protectedImage],
    ] as const) {
      if (!ids.has(id)) {
        counts.usedOrProtectedDeleted += 1;
        findings.push(`${seed.region}: the ${what} image ${id} was deleted`);
      }
    }
    const obsoleted = r.images.filter(
      (i) =>
        (i.id === seed.usedImage || i.id === seed.protectedImage || i.id === seed.unusedImage) &&
        isTrue(i.properties.obsolete),
    ).length;
    regions.push({
      region: seed.region,
      published: current.filter((i) => i.status === 'active' && i.checksum === input.checksum).map((i) => i.id),
      obsoleted,
      retired: !ids.has(seed.unusedImage),
    });
  }
  const keys = keyFiles(input.stateDir);
  counts.leakedKeyFiles = keys.length;
  for (const k of keys) findings.push(`private key ${k} left on the worker host`);
  return { counts, regions, findings };
}
