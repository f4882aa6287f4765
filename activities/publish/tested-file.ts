/**
 * Published bits are tested bits: before a lifecycle publishes, the image file
 * on its host must still hash to what the image test uploaded. The same read
 * gives the file's md5 and sha512, which every region's upload then checks
 * Glance's checksums against, so the file is hashed once however many regions
 * it goes to, and a file changed after this check is not published either.
 */
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
    let digests: Record<string, string>;
    let bytes: number;
    try {
      // md5 and sha512 (what each region's upload is checked against) in the same read, or the tested algorithm
      const algorithms = algorithm === 'sha256' ? [algorithm] : ['md5', 'sha512'];
      ({ bytes, digests } = await hashFile(input.file, { algorithms, signal: signal() }));
    } catch (err) {
      if (signal()?.aborted) throw err;
      throw new DibctlError(`Cannot read the tested image file ${input.file}: ${(err as Error).message}`);
    }
    const now = digests[algorithm];
    if (now !== input.checksum.toLowerCase()) {
      throw new DibctlError(
        `The image file ${input.file} changed after it was tested (${algorithm} ${input.checksum} tested, ${now} now): nothing was published; run again to test what is to be published`,
      );
    }
    return digests.md5 && digests.sha512
      ? { file: input.file, bytes, md5: digests.md5, sha512: digests.sha512 }
      : undefined;
  }

  return { verifyTestedFile };
}
