/**
 * A cluster query answers from the nodes that answered. When a node the asker believes alive
 * did not (it crashed, hangs, or lost its broker connection), the answer is partial; it says
 * so instead of stalling until that node drops out of the membership.
 *
 * - Lists (`fetchRooms`, `fetchRoomMembers`, `fetchClients`) carry two non-enumerable
 *   properties, so they stay plain arrays for JSON, spreading and deep equality.
 * - `ClusterStats` (`fetchStats`) carries the same two fields as ordinary ones.
 *
 * An answer without these properties (no cluster adapter) is complete.
 */
export interface ClusterAnswerInfo {
  /** True when at least one live node did not contribute. */
  readonly incomplete: boolean;
  /** Ids of the nodes that did not contribute (crashed, hung, unreachable, or too slow). */
  readonly missingNodes: readonly string[];
}

/** A list from a cluster query: an array, plus `incomplete` and `missingNodes` when a cluster adapter answered. */
export type ClusterList<T> = T[] & Partial<ClusterAnswerInfo>;

/** Sets `incomplete` and `missingNodes` on a list, non-enumerable (see above). */
export function markList<T>(list: T[], missing: readonly string[]): ClusterList<T> {
  const info = { incomplete: missing.length > 0, missingNodes: Object.freeze([...missing]) };
  Object.defineProperty(list, 'incomplete', { value: info.incomplete, enumerable: false });
  Object.defineProperty(list, 'missingNodes', { value: info.missingNodes, enumerable: false });
  return list as ClusterList<T>;
}
