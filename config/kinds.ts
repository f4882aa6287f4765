/** The three kinds of config file; a module of its own so the command line reads it without loading the schemas. */
export type ConfigKind = 'images' | 'test' | 'upload';
export const CONFIG_KINDS: readonly ConfigKind[] = ['images', 'test', 'upload'];
