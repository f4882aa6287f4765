/**
 * Putting values into /bin/sh command lines: a value is always one word and
 * never code, whatever it holds (`;`, `$(...)`, spaces, quotes).
 *
 * Plain code without Node built-ins: workflows use it too (the ssh command
 * line they show).
 */

/** Characters a word may hold unquoted (no expansion, no splitting). */
const SAFE_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/;

/** Whether `word` stays one literal word unquoted (so also under `$VAR` word splitting). */
export function isSafeWord(word: string): boolean {
  return SAFE_WORD.test(word);
}

/** Single-quotes a word for a POSIX shell (`'\''` for an embedded quote); safe words stay as they are. */
export function shellQuote(word: string): string {
  return isSafeWord(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A value that is itself a command line (its words already quoted), put in as it is outside quotes. */
export class CommandLine {
  constructor(readonly text: string) {}
}

type Value = string | CommandLine;

/** Where a placeholder stands in the template: which quotes it is inside. */
type Context = 'bare' | 'single' | 'double';

/** The value as the shell will read it back, literally, at that place. */
function quoteFor(context: Context, value: Value): string {
  const text = typeof value === 'string' ? value : value.text;
  switch (context) {
    case 'single':
      // inside '...': close, an escaped quote, reopen
      return text.replace(/'/g, `'\\''`);
    case 'double':
      // inside "...": only \ " $ ` keep a meaning
      return text.replace(/[\\"$`]/g, (c) => `\\${c}`);
    default:
      return typeof value === 'string' ? shellQuote(text) : text;
  }
}

/** A placeholder the template names but the values do not have. */
export class UnknownPlaceholder extends Error {
  constructor(
    readonly placeholder: string,
    readonly known: string[],
  ) {
    super(`unknown placeholder ${placeholder} (known: ${known.map((k) => `%(${k})s`).join(', ')})`);
  }
}

/**
 * Python's `%(name)s` interpolation with a mapping (`%%` is a percent sign)
 * into a /bin/sh command line, each value quoted for where it stands: bare,
 * it becomes one single-quoted word; inside the template's own '...' or "...",
 * it is escaped for those quotes, so a template that already quotes a
 * placeholder (`'%(output_filename)s'`) keeps working. A CommandLine value is
 * put in bare as it is (inside quotes it is escaped as any value).
 */
export function interpolateCommand(template: string, values: Record<string, Value>): string {
  let out = '';
  let context: Context = 'bare';
  for (let i = 0; i < template.length;) {
    const c = template[i];
    if (c === '%') {
      const m = /^%(%|\(([^)]*)\)s)/.exec(template.slice(i));
      if (m) {
        if (m[1] === '%') out += '%';
        else {
          const name = m[2];
          if (!Object.prototype.hasOwnProperty.call(values, name))
            throw new UnknownPlaceholder(m[0], Object.keys(values).sort());
          out += quoteFor(context, values[name]);
        }
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i += 1;
    if (context === 'single') {
      if (c === "'") context = 'bare';
    } else if (c === '\\' && i < template.length && template[i] !== '%') {
      // an escaped character (outside single quotes) is literal: no quote state change
      out += template[i];
      i += 1;
    } else if (context === 'double') {
      if (c === '"') context = 'bare';
    } else if (c === "'") context = 'single';
    else if (c === '"') context = 'double';
  }
  return out;
}
