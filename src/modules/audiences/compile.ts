import { sql, type RawBuilder } from 'kysely';
import type { Engine } from '../../platform/db/database.js';
import type { Collection, Condition, EventFilter, Scalar, ValueTest } from './definition.js';
import { DERIVED_EVENTS, filterType, propertyRoot } from './match.js';
import { windowStart } from './window.js';

/**
 * The SQL side of an audience: one condition tree compiled to a query that returns the ids of the member
 * profiles, on either engine. It means exactly what evaluate.ts means (the property test holds them to it).
 * Other modules' tables are read, never written, through the names they export (`Relations`).
 */
export interface Relations {
  /** identity: profiles(id, workspace_id, collection, merged_into) and profile_links(user_profile_id, account_profile_id). */
  profiles: string;
  links: string;
  /** profiles: profile_traits(profile_id, name, value JSON text) and the timeline profile_events(profile_id, event_offset, timestamp, type, event). */
  traits: string;
  timeline: string;
  /** collect: events(offset, payload). */
  events: string;
  /** identity: identifiers(profile_id, type, value, first_offset). */
  identifiers: string;
}

export interface CompileContext {
  engine: Engine;
  workspaceId: string;
  now: number;
  relations: Relations;
  /** Computed trait key -> id, audience key -> id (both must exist; the service checks before compiling). */
  computedTraitId(key: string): string;
  audienceId(key: string): string;
}

type Sql = RawBuilder<unknown>;

/** A JSON value the SQL can test: its type name and scalar value (SQLite) or the jsonb itself (PostgreSQL). */
interface Operand {
  sqliteType: Sql;
  sqliteValue: Sql;
  jsonb: Sql;
}

const traitOperand = (column: Sql): Operand => ({ sqliteType: sql`json_type(${column})`, sqliteValue: sql`json_extract(${column}, '$')`, jsonb: sql`(${column})::jsonb` });

function propertyOperand(payload: Sql, root: string, path: string): Operand {
  const keys = [root, ...path.split('.')];
  const sqlitePath = '$' + keys.map((k) => `."${k}"`).join('');
  // PostgreSQL: `-> 'key'` steps, which (unlike `#>`) never read a digit key as an array position, as
  // SQLite's quoted path and match.ts's readPath do not either.
  const steps = sql.join(keys.map((k) => sql` -> ${k}::text`), sql``);
  return { sqliteType: sql`json_type(${payload}, ${sqlitePath})`, sqliteValue: sql`json_extract(${payload}, ${sqlitePath})`, jsonb: sql`(${payload}${steps})` };
}

const NEGATED = { not_exists: 'exists', neq: 'eq', not_in: 'in' } as const;
type PositiveTest = Exclude<ValueTest, { op: keyof typeof NEGATED }>;

/** Whether `test` is the negation of a positive test, and that test. */
function positiveOf(test: ValueTest): [boolean, PositiveTest] {
  if (test.op in NEGATED) return [true, { ...test, op: NEGATED[test.op as keyof typeof NEGATED] } as PositiveTest];
  return [false, test as PositiveTest];
}

function scalarEquals(engine: Engine, x: Operand, v: Scalar): Sql {
  if (engine === 'postgres') return sql`${x.jsonb} = ${JSON.stringify(v)}::jsonb`;
  if (typeof v === 'boolean') return sql`${x.sqliteType} = ${v ? 'true' : 'false'}`;
  if (typeof v === 'number') return sql`(${x.sqliteType} in ('integer', 'real') and ${x.sqliteValue} = ${v})`;
  return sql`(${x.sqliteType} = 'text' and ${x.sqliteValue} = ${v})`;
}

const COMPARE = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** A positive test that is true or false, never NULL. */
function positive(engine: Engine, x: Operand, test: PositiveTest): Sql {
  const pg = engine === 'postgres';
  let expr: Sql = sql`false`;
  switch (test.op) {
    case 'exists':
      expr = pg ? sql`jsonb_typeof(${x.jsonb}) <> 'null'` : sql`${x.sqliteType} <> 'null'`;
      break;
    case 'eq':
      expr = scalarEquals(engine, x, test.value);
      break;
    case 'in':
      expr = sql`(${sql.join(test.values.map((v) => scalarEquals(engine, x, v)), sql` or `)})`;
      break;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const op = sql.raw(COMPARE[test.op]);
      expr = pg
        ? sql`case when jsonb_typeof(${x.jsonb}) = 'number' then (${x.jsonb})::numeric ${op} ${String(test.value)}::numeric else false end`
        : sql`(${x.sqliteType} in ('integer', 'real') and ${x.sqliteValue} ${op} ${test.value})`;
      break;
    }
    case 'contains':
    case 'starts_with': {
      const hit = test.op === 'contains' ? sql.raw('> 0') : sql.raw('= 1');
      expr = pg
        ? sql`case when jsonb_typeof(${x.jsonb}) = 'string' then strpos(${x.jsonb} #>> '{}', ${test.value}) ${hit} else false end`
        : sql`(${x.sqliteType} = 'text' and instr(${x.sqliteValue}, ${test.value}) ${hit})`;
      break;
    }
  }
  return sql`coalesce(${expr}, false)`;
}

/**
 * A positive test on the `value` column of a one-value-per-profile table (traits, computed values). That
 * column holds JSON.stringify of the value, one text per value, so equality is text equality, which the
 * (workspace, name, value) index of traits can answer.
 */
function valueColumnTest(engine: Engine, test: PositiveTest): Sql {
  const column = sql.ref('v.value');
  if (test.op === 'eq') return sql`${column} = ${JSON.stringify(test.value)}`;
  if (test.op === 'in') return sql`${column} in (${sql.join(test.values.map((v) => JSON.stringify(v)))})`;
  return positive(engine, traitOperand(column), test);
}

/**
 * One scope: the live profiles of a collection and a condition over them. Every leaf is a membership test
 * against a set the database computes once (`id in (select profile_id …)`): a few index range scans and
 * hash probes rather than a correlated lookup per profile per leaf. The sets never hold NULL, so `not in`
 * means what it says.
 */
class Scope {
  constructor(private readonly ctx: CompileContext, readonly collection: Collection, private readonly alias: string) {}

  query(condition: Condition): Sql {
    const where = this.expr(condition);
    const { relations: r, workspaceId } = this.ctx;
    const p = sql.raw(this.alias);
    return sql`select ${p}.id from ${sql.table(r.profiles)} ${p}
      where ${p}.workspace_id = ${workspaceId} and ${p}.collection = ${this.collection} and ${p}.merged_into is null and ${where}`;
  }

  private expr(c: Condition): Sql {
    const { ctx } = this;
    const id = sql.raw(`${this.alias}.id`);
    const within = (set: Sql) => sql`${id} in (${set})`;
    const outside = (set: Sql) => sql`not (${id} in (${set}))`;
    if ('all' in c) return sql`(${sql.join(c.all.map((x) => this.expr(x)), sql` and `)})`;
    if ('any' in c) return sql`(${sql.join(c.any.map((x) => this.expr(x)), sql` or `)})`;
    if ('not' in c) return sql`not ${this.expr(c.not)}`;
    if ('trait' in c || 'computed_trait' in c) {
      const [negated, pos] = positiveOf(c);
      const from = 'trait' in c
        ? sql`${sql.table(ctx.relations.traits)} v where v.workspace_id = ${ctx.workspaceId} and v.name = ${c.trait}`
        : sql`computed_values v where v.trait_id = ${ctx.computedTraitId(c.computed_trait)}`;
      const set = sql`select v.profile_id from ${from} and ${valueColumnTest(ctx.engine, pos)}`;
      return negated ? outside(set) : within(set);
    }
    if ('audience' in c) {
      const set = sql`select m.profile_id from audience_members m where m.audience_id = ${ctx.audienceId(c.audience)}`;
      return (c.member ?? true) ? within(set) : outside(set);
    }
    if ('event' in c) {
      const counted = (having: Sql) => this.eventCounts(c.event, windowStart(c.within, ctx.now), having);
      const { op, value } = c.count ?? { op: 'at_least', value: 1 };
      if (op === 'at_least') return value <= 0 ? sql`true` : within(counted(sql`count(*) >= ${value}`));
      if (op === 'at_most') return outside(counted(sql`count(*) > ${value}`));
      return value === 0 ? outside(counted(sql`count(*) >= 1`)) : within(counted(sql`count(*) = ${value}`));
    }
    // account: some live account the user is linked to meets the condition.
    const accounts = new Scope(ctx, 'accounts', `${this.alias}a`).query(c.account);
    return within(sql`select l.user_profile_id from ${sql.table(ctx.relations.links)} l where l.account_profile_id in (${accounts})`);
  }

  /** The profiles of this workspace whose matching events since `from` meet `having`. */
  private eventCounts(filter: EventFilter, from: number, having: Sql): Sql {
    const { ctx } = this;
    const type = filterType(filter);
    const conditions: Sql[] = [sql`pe.workspace_id = ${ctx.workspaceId}`, sql`pe.type = ${type}`];
    if (filter.name !== undefined) conditions.push(sql`pe.event = ${filter.name}`);
    else if (type === 'track') conditions.push(sql`(pe.event is null or pe.event not in (${sql.join(DERIVED_EVENTS)}))`);
    if (from !== -Infinity) conditions.push(sql`pe.timestamp >= ${from}`);
    let join = sql``;
    if (filter.where?.length) {
      join = sql`join ${sql.table(ctx.relations.events)} e on e.offset = pe.event_offset`;
      for (const w of filter.where) {
        const [negated, pos] = positiveOf(w);
        const test = positive(ctx.engine, propertyOperand(sql.ref('e.payload'), propertyRoot(type), w.property), pos);
        conditions.push(negated ? sql`not ${test}` : test);
      }
    }
    return sql`select pe.profile_id from ${sql.table(ctx.relations.timeline)} pe ${join} where ${sql.join(conditions, sql` and `)} group by pe.profile_id having ${having}`;
  }
}

/** The query of an audience's members (a column `id`). */
export function compileAudience(ctx: CompileContext, collection: Collection, condition: Condition): Sql {
  return new Scope(ctx, collection, 'p').query(condition);
}
