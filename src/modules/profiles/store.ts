import type { ExpressionBuilder, Kysely } from 'kysely';
import type { TraitWrite } from './traits.js';

export interface ProfilesTables {
  profile_traits: {
    workspace_id: string;
    profile_id: string;
    name: string;
    value: string;
    updated_at: number;
    event_offset: number;
    source_id: string;
    message_id: string;
  };
  profile_events: {
    workspace_id: string;
    profile_id: string;
    event_offset: number;
    timestamp: number;
    type: string;
    event: string | null;
    identifiers: string;
  };
  profile_settings: { workspace_id: string; set_once_traits: string };
}

export type TraitRow = ProfilesTables['profile_traits'];
export type TimelineRow = ProfilesTables['profile_events'];

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const toRow = (w: TraitWrite): TraitRow => ({
  workspace_id: w.workspaceId, profile_id: w.profileId, name: w.name, value: JSON.stringify(w.value ?? null),
  updated_at: w.at, event_offset: w.offset, source_id: w.sourceId, message_id: w.messageId,
});

export const profilesStore = {
  /** Upserts trait values; a stored value is replaced only by a newer one (or, set-once, an older one). */
  async writeTraits(db: Kysely<ProfilesTables>, rows: TraitRow[], setOnce: boolean) {
    for (const part of chunks(rows, 200)) {
      await db
        .insertInto('profile_traits')
        .values(part)
        .onConflict((oc) =>
          oc
            .columns(['profile_id', 'name'])
            .doUpdateSet((eb) => ({
              value: eb.ref('excluded.value'), updated_at: eb.ref('excluded.updated_at'), event_offset: eb.ref('excluded.event_offset'),
              source_id: eb.ref('excluded.source_id'), message_id: eb.ref('excluded.message_id'),
            }))
            .where((eb) =>
              setOnce
                ? eb.or([
                    eb('excluded.updated_at', '<', eb.ref('profile_traits.updated_at')),
                    eb.and([eb('excluded.updated_at', '=', eb.ref('profile_traits.updated_at')), eb('excluded.event_offset', '<', eb.ref('profile_traits.event_offset'))]),
                  ])
                : eb.or([
                    eb('excluded.updated_at', '>', eb.ref('profile_traits.updated_at')),
                    eb.and([eb('excluded.updated_at', '=', eb.ref('profile_traits.updated_at')), eb('excluded.event_offset', '>=', eb.ref('profile_traits.event_offset'))]),
                  ]),
            ),
        )
        .execute();
    }
  },
  traitsOf: (db: Kysely<ProfilesTables>, profileId: string) => db.selectFrom('profile_traits').selectAll().where('profile_id', '=', profileId).orderBy('name').execute(),
  async deleteTraits(db: Kysely<ProfilesTables>, profileId: string) {
    await db.deleteFrom('profile_traits').where('profile_id', '=', profileId).execute();
  },
  async insertTimeline(db: Kysely<ProfilesTables>, rows: TimelineRow[]) {
    for (const part of chunks(rows, 200)) {
      await db.insertInto('profile_events').values(part).onConflict((oc) => oc.columns(['profile_id', 'event_offset']).doNothing()).execute();
    }
  },
  async moveTimeline(db: Kysely<ProfilesTables>, from: string, to: string, offsets?: number[]) {
    let q = db.updateTable('profile_events').set({ profile_id: to }).where('profile_id', '=', from);
    if (offsets) q = q.where('event_offset', 'in', offsets);
    await q.execute();
  },
  /** One page of a timeline, filtered in SQL: time range, names (an event's name, or its type when unnamed), order. */
  timelinePage(
    db: Kysely<ProfilesTables>,
    profileId: string,
    q: { from?: number; to?: number; include?: string[]; exclude?: string[]; sort: 'asc' | 'desc'; skip: number; limit: number },
  ) {
    let query = db.selectFrom('profile_events').selectAll().where('profile_id', '=', profileId);
    if (q.from !== undefined) query = query.where('timestamp', '>=', q.from);
    if (q.to !== undefined) query = query.where('timestamp', '<=', q.to);
    const named = (names: string[]) => (eb: ExpressionBuilder<ProfilesTables, 'profile_events'>) => eb.or([eb('event', 'in', names), eb.and([eb('event', 'is', null), eb('type', 'in', names)])]);
    if (q.include?.length) query = query.where(named(q.include));
    if (q.exclude?.length) query = query.where((eb) => eb.not(named(q.exclude!)(eb)));
    return query.orderBy('timestamp', q.sort).orderBy('event_offset', q.sort).offset(q.skip).limit(q.limit).execute();
  },
  timeline: (db: Kysely<ProfilesTables>, profileId: string) => db.selectFrom('profile_events').selectAll().where('profile_id', '=', profileId).orderBy('event_offset').execute(),
  settings: (db: Kysely<ProfilesTables>, workspaceId: string) => db.selectFrom('profile_settings').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst(),
  async saveSettings(db: Kysely<ProfilesTables>, workspaceId: string, setOnce: string[]) {
    await db
      .insertInto('profile_settings')
      .values({ workspace_id: workspaceId, set_once_traits: JSON.stringify(setOnce) })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ set_once_traits: JSON.stringify(setOnce) }))
      .execute();
  },
};
