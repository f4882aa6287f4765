/**
 * Custom search attributes dibctl sets on its workflows (registered on dev
 * servers at start): the image label, and every upload environment a workflow
 * publishes to (a list, so `DibctlEnvironment = 'one'` finds a lifecycle that
 * publishes to `one` and `two`).
 */
export const DIBCTL_SEARCH_ATTRIBUTES = {
  DibctlLabel: 'Keyword',
  DibctlEnvironment: 'KeywordList',
} as const;

export function searchAttributeFlags(): string[] {
  return Object.entries(DIBCTL_SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
