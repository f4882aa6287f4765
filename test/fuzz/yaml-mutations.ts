/**
 * Valid configs in the reference's shape and the ways an operator's editor,
 * a bad merge or an attacker can mangle them: structural mutations on the
 * data, then textual ones on the YAML.
 */
import { stringify } from 'yaml';
import { HOSTILE_CHARS, Rng } from './prng';

export const PASSWORD = 'Pw-9f3c1d-n0t-f0r-pr1nt';
export const APP_SECRET = 'AppSecret-77e1b0-h1dden';
export const KINDS = ['images', 'test', 'upload'] as const;
export type Kind = (typeof KINDS)[number];

type Data = Record<string, unknown>;

/** images.yaml, test.yaml and upload.yaml as dibctl users write them; `authUrl` is where Keystone is. */
function baseConfigs(authUrl: string): Record<Kind, Data> {
  return {
    images: {
      xenial: {
        filename: 'xenial.img.qcow2',
        glance: {
          name: 'lab',
          upload_timeout: 900,
          properties: { display_priority: '4', hw_qemu_guest_agent: true },
          public: false,
          min_ram: 1024,
          tags: ['nightly'],
        },
        dib: {
          environment_variables: { DIB_RELEASE: 'xenial' },
          elements: ['ubuntu', 'vm'],
          cli_options: ['--no-tmpfs'],
          min_version: '2.0.0',
        },
        nova: { active_timeout: 600 },
        tests: {
          ssh: { username: 'ubuntu' },
          wait_for_port: 22,
          port_wait_timeout: 30,
          environment_name: 'lab_env',
          environment_variables: { ssh_username: 'cloud-user' },
          tests_list: [{ shell: 'tests/shell.d/', timeout: 300 }, { pytest: 'tests/pytest/example.py' }],
        },
        external_tests: [{ cmdline: './smoke.sh' }],
      },
    },
    test: {
      lab_env: {
        keystone: {
          auth_url: `${authUrl}/v3`,
          username: 'demo',
          password: PASSWORD,
          project_name: 'demo',
          user_domain_id: 'default',
        },
        nova: {
          flavor: '30',
          nics: [{ net_id: 'fe2acef0-4383-4432-8fca-f9e23f835dd5', v4_fixed_ip: '192.168.0.1' }],
          main_nic_regexp: 'internet',
          config_drive: true,
          availability_zone: 'az2',
          active_timeout: 999,
        },
        tests: { port_wait_timeout: 3000, environment_variables: { foo: 'bar' } },
        glance: { upload_timeout: 1666, protected: true, properties: { key1: 'value1' } },
      },
    },
    upload: {
      prod: {
        keystone: {
          os_auth_url: `${authUrl}/v3`,
          os_application_credential_id: 'a1b2c3',
          os_application_credential_secret: APP_SECRET,
        },
        ssl_insecure: true,
        glance: { disk_format: 'raw', share_with: ['ops', 'qa'], min_disk: 10 },
        preprocessing: {
          cmdline: 'qemu-img convert -O raw %(input_filename)s %(output_filename)s',
          output_filename: '%(input_filename)s.raw',
        },
        retire: { check_every: '6h', delete_after: '7d', keep: 2 },
      },
    },
  };
}

type PathSeg = string | number;

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Every (container, key) below the root, with its path. */
function slots(
  root: unknown,
  skipKeystone: boolean,
): Array<{ path: PathSeg[]; parent: Data | unknown[]; key: PathSeg }> {
  const out: Array<{ path: PathSeg[]; parent: Data | unknown[]; key: PathSeg }> = [];
  const walk = (node: unknown, path: PathSeg[], depth: number) => {
    if (depth > 12 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((v, i) => {
        out.push({ path: [...path, i], parent: node, key: i });
        walk(v, [...path, i], depth + 1);
      });
      return;
    }
    for (const [k, v] of Object.entries(node as Data)) {
      if (skipKeystone && k === 'keystone') continue;
      out.push({ path: [...path, k], parent: node as Data, key: k });
      walk(v, [...path, k], depth + 1);
    }
  };
  walk(root, [], 0);
  return out;
}

function set(parent: Data | unknown[], key: PathSeg, value: unknown): void {
  (parent as Record<PathSeg, unknown>)[key] = value;
}

function hostileString(rng: Rng): string {
  const parts: string[] = [];
  const n = rng.int(1, 8);
  for (let i = 0; i < n; i++) parts.push(rng.bool(0.5) ? rng.pick(HOSTILE_CHARS) : rng.string(6));
  return parts.join('');
}

function deepValue(rng: Rng, depth: number): unknown {
  let v: unknown = rng.pick(['leaf', 1, null, true]);
  for (let i = 0; i < depth; i++) v = rng.bool() ? [v] : { [rng.pick(['a', 'keystone', 'glance', 'min_ram'])]: v };
  return v;
}

function wrongValue(rng: Rng): unknown {
  switch (rng.int(0, 17)) {
    case 0:
      return rng.int(-1_000_000, 1_000_000);
    case 1:
      return -1;
    case 2:
      return 1e308;
    case 3:
      return Number.MAX_SAFE_INTEGER + 2;
    case 4:
      return '9'.repeat(rng.int(20, 400));
    case 5:
      return `${'9'.repeat(rng.int(17, 60))}${rng.pick(['s', 'm', 'h', 'd', 'w'])}`;
    case 6:
      return rng.bool();
    case 7:
      return null;
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return '';
    case 11:
      return hostileString(rng);
    case 12:
      return 0.5;
    case 13:
      return ['a', 'a'];
    case 14:
      return 'x'.repeat(rng.int(1000, 100_000));
    case 15:
      return { [hostileString(rng)]: hostileString(rng) };
    case 16:
      return rng.pick([
        'yes',
        'no',
        'on',
        'off',
        'y',
        'n',
        '~',
        '2001-12-14',
        '0x1F',
        '0o17',
        '1_000',
        '.inf',
        '-.nan',
        '1e400',
      ]);
    default:
      return [hostileString(rng), rng.int(0, 9)];
  }
}

const TYPOS: Record<string, string> = {
  min_ram: 'min-ram',
  filename: 'file_name',
  elements: 'element',
  nics: 'nic',
  keystone: 'Keystone',
  auth_url: 'authurl',
  password: 'pasword',
};

/** One structural change to the data; returns a short description for the failure report. */
function mutateData(rng: Rng, data: Data): string {
  const all = slots(data, false);
  const safe = slots(data, true);
  if (!all.length) return 'nothing to mutate';
  const s = rng.pick(all);
  switch (rng.int(0, 9)) {
    case 9: {
      // credentials: drop one value, so that some environments miss it
      const section = all.find((x) => x.key === 'keystone');
      const ks = section && (section.parent as Data).keystone;
      if (!ks || typeof ks !== 'object' || Array.isArray(ks)) return 'no keystone section';
      const key = rng.pick(Object.keys(ks as Data));
      if (key !== undefined) delete (ks as Data)[key];
      return `deleted keystone.${key}`;
    }
    case 0:
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete (s.parent as Data)[s.key as string];
      return `deleted ${s.path.join('.')}`;
    case 1:
    case 2:
      set(s.parent, s.key, wrongValue(rng));
      return `wrong value at ${s.path.join('.')}`;
    case 3: {
      if (Array.isArray(s.parent)) return 'typo skipped on a list';
      const k = String(s.key);
      const v = (s.parent as Data)[k];
      delete (s.parent as Data)[k];
      (s.parent as Data)[TYPOS[k] ?? `${k}${rng.pick(['_', 'x', '-', ' ', '\t'])}`] = v;
      return `renamed ${s.path.join('.')}`;
    }
    case 4:
      if (!Array.isArray(s.parent)) (s.parent as Data)[hostileString(rng)] = wrongValue(rng);
      return `unknown key near ${s.path.join('.')}`;
    case 5:
      set(s.parent, s.key, deepValue(rng, rng.int(10, 300)));
      return `deep nesting at ${s.path.join('.')}`;
    case 6: {
      // the same object in two places becomes an anchor and an alias (never a keystone value)
      if (!safe.length) return 'no alias source';
      const src = rng.pick(safe);
      const value = (src.parent as Record<PathSeg, unknown>)[src.key];
      set(s.parent, s.key, value);
      return `alias of ${src.path.join('.')} at ${s.path.join('.')}`;
    }
    case 7:
      if (!Array.isArray(s.parent)) (s.parent as Data)[`${'k'.repeat(rng.int(1025, 20_000))}`] = 1;
      return 'a very long key';
    default:
      if (!Array.isArray(s.parent)) (s.parent as Data)['<<'] = rng.pick([1, 'text', [1, 2], { name: 'merged' }]);
      return `merge key at ${s.path.join('.')}`;
  }
}

const BILLION_LAUGHS = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
].join('\n');

const ROOTS = [
  '',
  '~',
  '42',
  '"just text"',
  '- a\n- b',
  '[]',
  '{}',
  '--- |\n  text',
  '!!binary aGVsbG8=',
  '? [a, b]\n: c',
  '--- &r\n- *r',
  'null: {}',
  '"": {}',
  '!!set {a, b}',
  '!!omap [a: 1]',
];

/** One textual change to the YAML text. */
function mutateText(rng: Rng, text: string): { text: string | Buffer; what: string } {
  const lines = text.split('\n');
  const at = rng.int(0, Math.max(0, lines.length - 1));
  switch (rng.int(0, 11)) {
    case 0: {
      const cut = rng.int(0, text.length);
      return { text: text.slice(0, cut), what: `truncated at ${cut}` };
    }
    case 1:
      lines[at] = `\t${lines[at]}`;
      return { text: lines.join('\n'), what: `tab before line ${at + 1}` };
    case 2:
      lines.splice(at, 0, lines[at]);
      return { text: lines.join('\n'), what: `line ${at + 1} duplicated` };
    case 3: {
      const bytes = Buffer.from(text, 'utf8');
      const garbage = Buffer.from(Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 255)));
      const pos = rng.int(0, bytes.length);
      return {
        text: Buffer.concat([bytes.subarray(0, pos), garbage, bytes.subarray(pos)]),
        what: `binary garbage at byte ${pos}`,
      };
    }
    case 4:
      return { text: rng.bool() ? BILLION_LAUGHS : `${BILLION_LAUGHS}\n${text}`, what: 'alias bomb' };
    case 5:
      return { text: rng.pick(ROOTS), what: 'not a mapping of labels' };
    case 6: {
      const pos = rng.int(0, text.length);
      return {
        text: text.slice(0, pos) + rng.pick(HOSTILE_CHARS) + text.slice(pos),
        what: `hostile character at ${pos}`,
      };
    }
    case 7:
      return { text: `${text}\n---\n${text}`, what: 'two documents' };
    case 8:
      return {
        text: `${rng.pick(['%YAML 1.2', '%YAML 9.9', '%TAG ! tag:evil.example,2000:', '%FOO'])}\n---\n${text}`,
        what: 'directive',
      };
    case 9:
      lines[at] = lines[at].replace(
        /: /,
        rng.pick([
          ': !!python/object/apply:os.system ',
          ': !!binary ',
          ': !custom ',
          ': *undefined_anchor ',
          ': &anchor ',
        ]),
      );
      return { text: lines.join('\n'), what: `tag or alias on line ${at + 1}` };
    case 10:
      return {
        text: Buffer.from(Array.from({ length: rng.int(0, 2048) }, () => rng.int(0, 255))),
        what: 'random bytes',
      };
    default: {
      const indent = ' '.repeat(rng.int(1, 7));
      lines[at] = indent + lines[at];
      return { text: lines.join('\n'), what: `indentation of line ${at + 1}` };
    }
  }
}

export interface MutatedFile {
  kind: Kind;
  content: string | Buffer;
  mutations: string[];
}

/** A mutated version of one kind's file: zero to three data changes, then maybe one or two text changes. */
export function mutatedFile(rng: Rng, kind: Kind, authUrl: string): MutatedFile {
  const data = clone(baseConfigs(authUrl)[kind]);
  const mutations: string[] = [];
  const dataChanges = rng.int(0, 3);
  for (let i = 0; i < dataChanges; i++) mutations.push(mutateData(rng, data));
  let content: string | Buffer = stringify(data, { aliasDuplicateObjects: true, lineWidth: 0 });
  const textChanges = rng.bool(0.55) ? rng.int(1, 2) : 0;
  for (let i = 0; i < textChanges; i++) {
    const m = mutateText(rng, typeof content === 'string' ? content : content.toString('latin1'));
    content = m.text;
    mutations.push(m.what);
  }
  return { kind, content, mutations };
}

/** The unmutated file of a kind. */
export function validFile(kind: Kind, authUrl: string): string {
  return stringify(baseConfigs(authUrl)[kind], { lineWidth: 0 });
}
