/**
 * Published bits are tested bits: before a lifecycle publishes, the image file
 * on its host must still hash to what the image test uploaded. The same read
 * gives the file's md5 and sha512, which every region's upload then checks
 * Glance's checksums against, so the file is hashed once however many regions
 * it goes to, and a file changed after this check is not published either.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cancellationSignal } from '@temporalio/activity';
import { DibctlError } from '../../errors';
import { hashFile } from '../../openstack';

/** Glance's checksums by their length in hex digits. */
const ALGORITHMS: Record<number, string> = { 32: 'md5', 64: 'sha256', 128: 'sha512' };

/** The tested file as the check read it: what each region's upload must end with in Glance. */
export interface TestedFile {
  file: string;
  bytes: number;
  md5: string;
  sha512: string;
}

async function hashWith(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The activity's cancellation, when running as one (a plain call in a test has none). */
function signal(): AbortSignal | undefined {
  try {
    return cancellationSignal();
  } catch {
    return undefined;
  }
}

export function createTestedFileActivities() {
  /**
   * Fails (nothing is published) when the file no longer has the tested
   * checksum; otherwise returns its size, md5 and sha512 (none for a tested
   * checksum of another algorithm).
   */
  async function verifyTestedFile(input: { file: string; checksum: string }): Promise<TestedFile | undefined> {
    const algorithm = ALGORITHMS[input.checksum.length];
    if (!algorithm) return undefined;
    let now: string;
    let tested: TestedFile | undefined;
    try {
      if (algorithm === 'sha256') {
        now = await hashWith(input.file, algorithm);
      } else {
        const read = await hashFile(input.file, { signal: signal() });
        tested = { file: input.file, bytes: read.bytes, md5: read.md5, sha512: read.sha512 };
        now = algorithm === 'md5' ? read.md5 : read.sha512;
      }
    } catch (err) {
      if (signal()?.aborted) throw err;
      throw new DibctlError(`Cannot read the tested image file ${input.file}: ${(err as Error).message}`);
    }
    if (now !== input.checksum.toLowerCase()) {
      throw new DibctlError(
        `The image file ${input.file} changed after it was tested (${algorithm} ${input.checksum} tested, ${now} now): nothing was published; run again to test what is to be published`,
      );
    }
    return tested;
  }

  return { verifyTestedFile };
}
