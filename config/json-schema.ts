/** JSON Schema of each kind of config file, for editors (yaml-language-server). */
import { z } from 'zod';
import { keystoneKeyPattern } from './keystone-keys';
import { ConfigKind, ENTRY_SCHEMAS, keystoneSchema } from './schema';

const TITLES: Record<ConfigKind, string> = {
  images: 'dibctl images.yaml: image labels to how each image is built, tested and named',
  test: 'dibctl test.yaml: test environment labels to where and how test instances boot',
  upload: 'dibctl upload.yaml: upload environment labels to where images are published',
};

export function jsonSchemaFor(kind: ConfigKind): Record<string, unknown> {
  const entry = z.toJSONSchema(ENTRY_SCHEMAS[kind], {
    target: 'draft-7',
    unrepresentable: 'any',
    io: 'input',
    override: (ctx) => {
      if (ctx.zodSchema === keystoneSchema) {
        const s = ctx.jsonSchema as Record<string, unknown>;
        s.type = 'object';
        s.propertyNames = { pattern: keystoneKeyPattern() };
        s.additionalProperties = { type: ['string', 'number', 'boolean'] };
      }
    },
  }) as Record<string, unknown>;
  const { $schema, ...entrySchema } = entry;
  // an upload environment needs keystone unless it publishes with external_upload alone
  if (kind === 'upload') entrySchema.anyOf = [{ required: ['keystone'] }, { required: ['external_upload'] }];
  return {
    $schema: $schema ?? 'http://json-schema.org/draft-07/schema#',
    title: TITLES[kind],
    type: 'object',
    additionalProperties: entrySchema,
  };
}
