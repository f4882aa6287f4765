/**
 * Values put into /bin/sh command lines (placeholders of preprocessing,
 * external_upload and external_tests, the ssh command line) are one word and
 * never code, wherever the template puts them.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CommandLine, interpolateCommand, shellQuote } from '../../common/shell';
import { runExternalUpload } from '../../activities/publish/external-upload';
import { runPreprocessing } from '../../activities/publish/preprocess';
import { sshCommandLine, sshConfigText } from '../../activities/test-runners';

let dir: string;
let marker: string;
/** Everything at once: a command separator, a substitution, a space and a single quote. */
let hostile: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl quoting '));
  marker = path.join(dir, 'pwned');
  hostile = `x;touch ${marker}; $(touch ${marker}) \`touch ${marker}\` it's "q" \\ end`;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a command line through /bin/sh and returns its arguments as printf sees them. */
function words(cmdline: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${cmdline}`], { encoding: 'utf8' });
  return out.split('\n').slice(0, -1);
}

describe('interpolateCommand', () => {
  test('a bare placeholder becomes one literal word', () => {
    expect(words(interpolateCommand('%(v)s', { v: hostile }))).toEqual([hostile]);
    expect(words(interpolateCommand('--out=%(v)s.tmp', { v: hostile }))).toEqual([`--out=${hostile}.tmp`]);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('a placeholder the template already quotes (\'...\' or "...") keeps working and stays literal', () => {
    expect(words(interpolateCommand("'%(v)s'", { v: hostile }))).toEqual([hostile]);
    expect(words(interpolateCommand('"%(v)s"', { v: hostile }))).toEqual([hostile]);
    expect(words(interpolateCommand(`"pre %(v)s" 'a %(v)s b'`, { v: hostile }))).toEqual([
      `pre ${hostile}`,
      `a ${hostile} b`,
    ]);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('plain values read as before; %% is a percent sign; an empty value is an empty word', () => {
    expect(interpolateCommand('cp %(a)s \'%(b)s\' "%(c)s" 100%%', { a: '/x/a.img', b: '/x/b', c: 'c' })).toBe(
      `cp /x/a.img '/x/b' "c" 100%`,
    );
    expect(words(interpolateCommand('%(e)s', { e: '' }))).toEqual(['']);
  });

  test('quotes escaped in the template do not change where the placeholder stands', () => {
    expect(words(interpolateCommand(`\\'%(v)s \\"%(v)s`, { v: hostile }))).toEqual([`'${hostile}`, `"${hostile}`]);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('a command line value is put in as it is, its words quoted already', () => {
    const cmd = new CommandLine(`printf '%s\\n' ${shellQuote(hostile)}`);
    const out = execFileSync('/bin/sh', ['-c', interpolateCommand('%(c)s', { c: cmd })], { encoding: 'utf8' });
    expect(out).toBe(`${hostile}\n`);
  });

  test('an unknown placeholder is an error naming the known ones', () => {
    expect(() => interpolateCommand('%(nope)s', { a: '1', b: '2' })).toThrow(
      'unknown placeholder %(nope)s (known: %(a)s, %(b)s)',
    );
  });
});

describe('preprocessing and external_upload', () => {
  test('a file name with a space, quotes, ; and $(...) reaches preprocessing intact, bare or quoted', async () => {
    const input = path.join(dir, `${hostile}.qcow2`.replace(/\//g, '_'));
    fs.writeFileSync(input, 'image');
    for (const cmdline of [
      'cp %(input_filename)s %(output_filename)s',
      "cp '%(input_filename)s' '%(output_filename)s'",
      'cp "%(input_filename)s" "%(output_filename)s"',
    ]) {
      const r = await runPreprocessing({
        environment: 'e',
        settings: {
          cmdline,
          outputFilename: '%(input_filename)s.raw',
          useExisting: false,
          deleteProcessedAfterUpload: true,
        },
        inputFile: input,
        values: { input_filename: input, disk_format: 'raw', container_format: 'bare' },
        publishId: `p-${cmdline.length}`,
        env: process.env,
        cwd: dir,
      });
      expect(fs.readFileSync(r.file, 'utf8')).toBe('image');
      expect(path.basename(r.file)).toBe(`${path.basename(input)}.raw`);
    }
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('external_upload commands get each value as one word', async () => {
    const out = path.join(dir, 'args');
    await runExternalUpload({
      environment: 'e',
      templates: [`printf '%s|' %(input_filename)s %(disk_format)s > '${out}'`],
      values: { input_filename: hostile, disk_format: 'qcow2' },
      auth: { authUrl: 'http://keystone.invalid/v3', username: 'u', password: 'p' },
      env: process.env,
      cwd: dir,
    });
    expect(fs.readFileSync(out, 'utf8')).toBe(`${hostile}|qcow2|`);
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('the ssh command line', () => {
  test('a key path with spaces and quotes is one word; a plain one reads as before', () => {
    const key = path.join(dir, "my key's file");
    const line = sshCommandLine({ ip: '10.0.0.5', username: 'debian', port: 2222, privateKeyFile: key });
    const argv = words(line);
    expect(argv[argv.indexOf('-i') + 1]).toBe(key);
    expect(argv.slice(-3)).toEqual(['-p', '2222', 'debian@10.0.0.5']);
    expect(sshCommandLine({ ip: '10.0.0.5', username: 'debian', port: 22, privateKeyFile: '/k/id' })).toBe(
      'ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PasswordAuthentication=no -i /k/id debian@10.0.0.5',
    );
    expect(sshConfigText({ ip: '10.0.0.5', username: 'debian', port: 22, privateKeyFile: '/a b/id' })).toContain(
      '    IdentityFile "/a b/id"\n',
    );
  });
});
