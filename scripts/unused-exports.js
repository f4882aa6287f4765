#!/usr/bin/env node
// Fails when a TypeScript module exports something no other module imports
// (tests and benches count as users). Modules whose exports are used from
// outside TypeScript are left out of the report: the CLI entry point (bin/),
// the module operators' `ts:` tests import as `dibctl/testing`, jest's global
// setup files.
// ts-unused-exports does not see names taken from a dynamic import
// (`const { a } = await import('./m')`, or several in `await Promise.all([...])`),
// which is how the CLI loads a command's code only when it runs: those count as used here.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const root = path.resolve(__dirname, '..');
const entryPoints = [
  'client/main.ts',
  'activities/test-runners/testing.ts',
  'test/real/global-setup.ts',
  'test/real/global-teardown.ts',
];

/** The files tsconfig.json includes. */
function sourceFiles() {
  const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile).config;
  return ts.parseJsonConfigFileContent(config, ts.sys, root).fileNames;
}

/** The module file an import specifier names, or undefined for a package. */
function resolveModule(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  return undefined;
}

/** `import('x')`'s specifier, when node is that call. */
function importSpecifier(node) {
  if (!ts.isCallExpression(node) || node.expression.kind !== ts.SyntaxKind.ImportKeyword) return undefined;
  const arg = node.arguments[0];
  return arg && ts.isStringLiteral(arg) ? arg.text : undefined;
}

function bindingNames(pattern) {
  if (!ts.isObjectBindingPattern(pattern)) return [];
  return pattern.elements.map((e) => (e.propertyName ?? e.name).getText());
}

/** Relative module path → names destructured from its dynamic imports anywhere. */
function dynamicallyImported() {
  const used = new Map();
  const add = (file, specifier, names) => {
    const target = resolveModule(file, specifier);
    if (!target) return;
    const rel = path.relative(root, target);
    used.set(rel, new Set([...(used.get(rel) ?? []), ...names]));
  };
  for (const file of sourceFiles()) {
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes('import(')) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (node) => {
      if (ts.isVariableDeclaration(node) && node.initializer && ts.isAwaitExpression(node.initializer)) {
        const awaited = node.initializer.expression;
        const single = importSpecifier(awaited);
        if (single) add(file, single, bindingNames(node.name));
        else if (
          ts.isCallExpression(awaited) &&
          awaited.expression.getText() === 'Promise.all' &&
          ts.isArrayLiteralExpression(awaited.arguments[0] ?? {}) &&
          ts.isArrayBindingPattern(node.name)
        ) {
          awaited.arguments[0].elements.forEach((element, i) => {
            const specifier = importSpecifier(element);
            const binding = node.name.elements[i];
            if (specifier && binding && ts.isBindingElement(binding)) add(file, specifier, bindingNames(binding.name));
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return used;
}

const bin = require.resolve('ts-unused-exports/bin/ts-unused-exports', { paths: [root] });
const r = spawnSync(
  process.execPath,
  [bin, 'tsconfig.json', '--showLineNumber', `--excludePathsFromReport=${entryPoints.join(';')}`],
  {
    cwd: root,
    encoding: 'utf8',
  },
);
const out = (r.stdout + r.stderr).split(root + path.sep).join('');
const used = dynamicallyImported();
const unused = out
  .split('\n')
  .filter((line) => /^\S+?(\[\d+,\d+\])?: /.test(line))
  .filter((line) => {
    const m = /^(\S+?)(?:\[\d+,\d+\])?: (.+)$/.exec(line);
    const names = m[2].split(',').map((n) => n.trim());
    return !names.every((n) => used.get(m[1])?.has(n));
  });
if (r.error || (r.status !== 0 && !/modules? with unused exports/.test(out)) || unused.length) {
  process.stderr.write(unused.length ? `${unused.join('\n')}\n` : out);
  process.stderr.write('Remove these exports, or use them.\n');
  process.exit(1);
}
