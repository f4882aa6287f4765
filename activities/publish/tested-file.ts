/**
 * Published bits are tested bits: before a lifecycle publishes, the image file
 * on its host must still hash to what the image test uploaded.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { DibctlError } from '../../errors';

/** Glance's checksums by their length in hex digits. */
const ALGORITHMS: Record<number, string> = { 32: 'md5', 64: 'sha256', 128: 'sha512' };

async function hashFile(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function createTestedFileActivities() {
  /** Fails (nothing is published) when the file no longer has the tested checksum. */
  async function verifyTestedFile(input: { file: string; checksum: string }): Promise<void> {
    const algorithm = ALGORITHMS[input.checksum.length];
    if (!algorithm) return;
    let now: string;
    try {
      now = await hashFile(input.file, algorithm);
    } catch (err) {
      throw new DibctlError(`Cannot read the tested image file ${input.file}: ${(err as Error).message}`);
    }
    if (now !== input.checksum.toLowerCase()) {
      throw new DibctlError(
        `The image file ${input.file} changed after it was tested (${algorithm} ${input.checksum} tested, ${now} now): nothing was published; run again to test what is to be published`,
      );
    }
  }

  return { verifyTestedFile };
}
