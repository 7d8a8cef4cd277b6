import type { Kysely } from 'kysely';
import { identityRelations } from '../../identity/index.js';
import { profilesRelations } from '../../profiles/index.js';
import { rebuildSearch } from '../indexing.js';
import { createSearch } from '../search.js';

/** Email addresses and domains became words of their own (search.ts `addressWords`): documents written again where they change. */
export async function up(db: Kysely<any>): Promise<void> {
  await rebuildSearch(db, { ...identityRelations, ...profilesRelations }, createSearch(), Date.now());
}

export async function down(): Promise<void> {
  // The extra words do no harm to the previous version's searches.
}
