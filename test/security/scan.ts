/**
 * Looking for secrets where they must never be: every event of every workflow
 * history in a namespace (payloads decoded), what running workflows answer to
 * queries and describe, and any text (CLI output, worker logs).
 */
import type { Client } from '@temporalio/client';

export interface Needle {
  /** What the secret is (printed instead of its value). */
  name: string;
  value: string;
}

export interface Haystack {
  /** Where the text came from: a workflow, a log file, a command's output. */
  source: string;
  text: string;
}

interface Hit {
  needle: string;
  source: string;
  /** A few characters around the hit, with the secret itself masked. */
  context: string;
}

/** Markers of private-key material in any format, and the start of an OpenSSH key body (base64 of "openssh-key-v1"). */
export const KEY_MARKERS: Needle[] = [
  { name: 'OpenSSH private key header', value: 'BEGIN OPENSSH PRIVATE KEY' },
  { name: 'PEM private key header', value: 'PRIVATE KEY-----' },
  { name: 'OpenSSH private key body', value: 'b3BlbnNzaC1rZXktdjE' },
];

/** The secret as written, and as it looks base64-encoded (payload bytes, headers). */
function variants(n: Needle): string[] {
  const out = new Set([n.value]);
  if (n.value.length >= 8) out.add(Buffer.from(n.value).toString('base64').replace(/=+$/, ''));
  return [...out];
}

export function scan(haystacks: Haystack[], needles: Needle[]): Hit[] {
  const hits: Hit[] = [];
  for (const h of haystacks) {
    for (const n of needles) {
      for (const v of variants(n)) {
        let at = h.text.indexOf(v);
        while (at >= 0) {
          const context = (
            h.text.slice(Math.max(0, at - 40), at) +
            '<SECRET>' +
            h.text.slice(at + v.length, at + v.length + 40)
          ).replace(/\s+/g, ' ');
          hits.push({ needle: n.name, source: h.source, context });
          at = h.text.indexOf(v, at + v.length);
        }
      }
    }
  }
  return hits;
}

/** Every string and byte array in a protobuf-shaped object, bytes decoded as UTF-8 (payload data) and kept as base64 too. */
export function textOf(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 64 || value === null || value === undefined) return out;
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) {
    const b = Buffer.from(value);
    out.push(b.toString('utf8'), b.toString('base64'));
  } else if (Array.isArray(value)) for (const v of value) textOf(v, out, depth + 1);
  else if (typeof value === 'object')
    for (const v of Object.values(value as Record<string, unknown>)) textOf(v, out, depth + 1);
  return out;
}

const QUERIES = ['stage', 'imageTestStatus', 'retirementStatus'];

/**
 * One haystack per workflow run in the namespace: its full history (every
 * event, every payload), and for running ones the describe answer (pending
 * activities' heartbeat details) and what its queries return.
 */
export async function workflowHaystacks(
  client: Client,
): Promise<{ haystacks: Haystack[]; runs: number; events: number; payloads: number }> {
  const haystacks: Haystack[] = [];
  let runs = 0;
  let events = 0;
  let payloads = 0;
  for await (const wf of client.workflow.list()) {
    runs += 1;
    const handle = client.workflow.getHandle(wf.workflowId, wf.runId);
    const history = await handle.fetchHistory();
    events += history.events?.length ?? 0;
    const texts = textOf(history);
    payloads += countPayloads(history);
    if (wf.status.name === 'RUNNING') {
      texts.push(...textOf((await handle.describe()).raw));
      for (const q of QUERIES) {
        try {
          texts.push(JSON.stringify(await handle.query(q)));
        } catch {
          // not a query this workflow type answers
        }
      }
    }
    haystacks.push({ source: `workflow ${wf.workflowId} (${wf.type}, run ${wf.runId})`, text: texts.join('\n') });
  }
  return { haystacks, runs, events, payloads };
}

function countPayloads(value: unknown, depth = 0): number {
  if (depth > 64 || value === null || typeof value !== 'object') return 0;
  if (Array.isArray(value)) return value.reduce((s: number, v) => s + countPayloads(v, depth + 1), 0);
  const o = value as Record<string, unknown>;
  const self = o.data instanceof Uint8Array && typeof o.metadata === 'object' ? 1 : 0;
  return self + Object.values(o).reduce((s: number, v) => s + countPayloads(v, depth + 1), 0);
}
