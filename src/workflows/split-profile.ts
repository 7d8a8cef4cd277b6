import type { AudiencesService } from '../modules/audiences/index.js';
import { eventLog } from '../modules/collect/index.js';
import { normalizeLookup, type Identifier, type IdentityService } from '../modules/identity/index.js';
import type { ProfilesService } from '../modules/profiles/index.js';
import type { Database } from '../platform/db/database.js';
import { lockWorkspace } from '../pipeline/partitions.js';

/**
 * Split: take one identifier off a profile onto a new profile, move the events that carried it, and
 * rebuild both profiles' traits, computed traits and audience memberships from their events. One transaction, holding the workspace's partition lock (the pipeline's, for this workspace), so no
 * micro-batch interleaves with it.
 */
export async function splitProfile(
  deps: { database: Database; identity: IdentityService; profiles: ProfilesService; audiences: AudiencesService },
  input: { workspaceId: string; profileId: string; identifier: Identifier; actor: string; now: number },
) {
  const id = normalizeLookup(input.identifier);
  return deps.database.db.transaction().execute(async (tx) => {
    await lockWorkspace(tx, input.workspaceId, deps.database.engine === 'postgres');
    const end = await eventLog.end(tx);
    const { newProfileId, collection } = await deps.identity.splitIdentifier(tx, input.workspaceId, input.profileId, id, input.actor, input.now, end);
    const moved = await deps.profiles.reattribute(tx, input.profileId, newProfileId, `${id.type}:${id.value}`);
    const remaining = (await deps.profiles.timeline(tx, input.profileId)).map((r) => Number(r.event_offset));
    await deps.profiles.rebuildTraits(tx, input.profileId, collection, await eventLog.at(tx, input.workspaceId, remaining));
    await deps.profiles.rebuildTraits(tx, newProfileId, collection, await eventLog.at(tx, input.workspaceId, moved));
    await deps.audiences.rebuildProfiles(tx, input.workspaceId, new Map([[input.profileId, collection], [newProfileId, collection]]), input.now);
    return { profileId: input.profileId, newProfileId, movedEvents: moved.length };
  });
}
