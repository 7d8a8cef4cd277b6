import { keyOf, type Collection, type Identifier } from './identifiers.js';

export interface HeldIdentifier extends Identifier {
  /** Event time the profile first carried it: what rolling-window limits count. */
  firstSeen: number;
  /** Log offset of the event that attached it (explain cites it). */
  firstOffset: number;
}

export interface ProfileNode {
  id: string;
  collection: Collection;
  /** Log offset of the event that created it; on a merge the oldest profile survives. */
  createdOffset: number;
  merges: number;
  identifiers: Map<string, HeldIdentifier>;
}

/**
 * The part of the identity graph a micro-batch touches, in memory: loaded in bulk before the batch,
 * changed event by event, written back in bulk after. Keys are `collection|type:value`.
 */
export class GraphView {
  readonly owners = new Map<string, string>();
  readonly profiles = new Map<string, ProfileNode>();

  static ownerKey(collection: Collection, id: Identifier): string {
    return `${collection}|${keyOf(id)}`;
  }

  addProfile(node: ProfileNode): void {
    this.profiles.set(node.id, node);
    for (const [key] of node.identifiers) this.owners.set(`${node.collection}|${key}`, node.id);
  }

  ownerOf(collection: Collection, id: Identifier): ProfileNode | undefined {
    const owner = this.owners.get(GraphView.ownerKey(collection, id));
    return owner ? this.profiles.get(owner) : undefined;
  }

  attach(node: ProfileNode, id: Identifier, firstSeen: number, firstOffset: number): void {
    node.identifiers.set(keyOf(id), { type: id.type, value: id.value, firstSeen, firstOffset });
    this.owners.set(GraphView.ownerKey(node.collection, id), node.id);
  }

  /** Moves every identifier of `loser` to `winner`; the loser stays as a tombstone pointing at the winner. */
  merge(winner: ProfileNode, loser: ProfileNode): void {
    for (const [key, held] of loser.identifiers) {
      winner.identifiers.set(key, held);
      this.owners.set(`${winner.collection}|${key}`, winner.id);
    }
    winner.merges += loser.merges + 1;
    loser.identifiers.clear();
    this.profiles.delete(loser.id);
  }
}
