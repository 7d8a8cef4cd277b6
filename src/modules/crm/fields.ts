import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { checkFieldDefinition, type CrmObject, type FieldDefinition } from './custom-fields.js';
import { crmStore as store } from './store.js';

export { CRM_OBJECTS, type CrmObject } from './custom-fields.js';

/** Custom field definitions per workspace and object, cached briefly: every write of a record reads them. */
export function createFields(now: () => number) {
  const cache = new Map<string, { at: number; defs: FieldDefinition[] }>();
  const CACHE_MS = 5_000;

  return {
    async of(db: Kysely<any>, workspaceId: string, object: CrmObject): Promise<FieldDefinition[]> {
      const key = `${workspaceId}|${object}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < CACHE_MS) return hit.defs;
      const defs = (await store.fields(db, workspaceId, object)).map((r) => JSON.parse(r.definition) as FieldDefinition);
      cache.set(key, { at: now(), defs });
      return defs;
    },
    async create(db: Kysely<any>, workspaceId: string, object: CrmObject, input: unknown): Promise<FieldDefinition> {
      const def = checkFieldDefinition(input);
      const existing = await store.fields(db, workspaceId, object);
      if (existing.some((r) => r.key === def.key)) throw errors.conflict(`The ${object} field "${def.key}" exists already.`);
      await store.insertField(db, { id: randomUUID(), workspace_id: workspaceId, object, key: def.key, definition: JSON.stringify(def), created_at: now() });
      cache.delete(`${workspaceId}|${object}`);
      return def;
    },
    /** Removes the definition; values already stored stay in the records' JSON until they are next written. */
    async remove(db: Kysely<any>, workspaceId: string, object: CrmObject, key: string): Promise<void> {
      const r = await store.deleteField(db, workspaceId, object, key);
      if (Number(r.numDeletedRows) === 0) throw errors.notFound(`The ${object} field "${key}"`);
      cache.delete(`${workspaceId}|${object}`);
    },
  };
}

export type Fields = ReturnType<typeof createFields>;
