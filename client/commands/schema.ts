import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KINDS, ConfigKind, jsonSchemaFor } from '../../config';
import { Output } from '../render';

export interface SchemaOptions {
  /** Write `<kind>.schema.json` files there instead of printing. */
  outDir?: string;
}

/** Prints (or writes) the JSON Schema of one kind of config file, or of all three. */
export async function schema(kind: ConfigKind | undefined, opts: SchemaOptions, o: Output): Promise<number> {
  const kinds = kind ? [kind] : [...CONFIG_KINDS];
  if (opts.outDir) {
    mkdirSync(opts.outDir, { recursive: true });
    for (const k of kinds) {
      const file = path.join(opts.outDir, `${k}.schema.json`);
      writeFileSync(file, JSON.stringify(jsonSchemaFor(k), null, 2) + '\n');
      o.out(`Wrote ${file} (add "# yaml-language-server: $schema=${path.resolve(file)}" to ${k}.yaml)`);
    }
    return 0;
  }
  const value = kind ? jsonSchemaFor(kind) : Object.fromEntries(kinds.map((k) => [k, jsonSchemaFor(k)]));
  o.out(JSON.stringify(value, null, 2));
  return 0;
}
