import type { AudiencesService } from '../modules/audiences/index.js';
import type { CrmProfileStep } from '../modules/crm/index.js';
import type { Consent } from '../modules/privacy/index.js';
import type { IdentityService } from '../modules/identity/index.js';
import type { ProfilesService } from '../modules/profiles/index.js';
import type { Database } from '../platform/db/database.js';
import { lockWorkspace } from '../pipeline/partitions.js';

/**
 * Merge by hand: two profiles of one person (duplicate contacts, say) become one, as an automatic merge would
 * make them: identifiers and links move (recorded in the merge log with who asked), traits fold newest value
 * first, timelines join, audience memberships and computed traits are recomputed, the CRM records fold and
 * the search index follows. One transaction holding the workspace's partition lock (the pipeline's, for this workspace), so no micro-batch interleaves.
 */
export async function mergeProfiles(
  deps: { database: Database; identity: IdentityService; profiles: ProfilesService; audiences: AudiencesService; crm: { profileStep: CrmProfileStep }; privacy: { consent: Pick<Consent, 'fold'> } },
  input: { workspaceId: string; primaryId: string; duplicateId: string; actor: string; now: number },
) {
  return deps.database.db.transaction().execute(async (tx) => {
    await lockWorkspace(tx, input.workspaceId, deps.database.engine === 'postgres');
    const merge = await deps.identity.mergeProfiles(tx, input.workspaceId, input.primaryId, input.duplicateId, input.actor, input.now);
    await deps.profiles.applyBatch(tx, [], new Map(), [merge]);
    await deps.audiences.applyBatch(tx, [], [merge], new Set(), input.now);
    await deps.crm.profileStep.applyBatch(tx, [], [merge], input.now);
    await deps.privacy.consent.fold(tx, [merge]);
    return merge;
  });
}
