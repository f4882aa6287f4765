/** Custom search attributes dibctl sets on its workflows (registered on dev servers at start). */
export const DIBCTL_SEARCH_ATTRIBUTES = {
  DibctlLabel: 'Keyword',
  DibctlEnvironment: 'Keyword',
} as const;

export function searchAttributeFlags(): string[] {
  return Object.entries(DIBCTL_SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}
