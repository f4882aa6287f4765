/**
 * Custom search attributes dibctl sets on its workflows (registered on dev
 * servers at start): the image label, and every upload environment a workflow
 * publishes to (a list, so `DibctlEnvironments = 'one'` finds a lifecycle that
 * publishes to `one` and `two`). A new name rather than a new type: a server
 * keeps the type an attribute was first registered with.
 */
export const DIBCTL_SEARCH_ATTRIBUTES = {
  DibctlLabel: 'Keyword',
  DibctlEnvironments: 'KeywordList',
} as const;

export function searchAttributeFlags(): string[] {
  return Object.entries(DIBCTL_SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
