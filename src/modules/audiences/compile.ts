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

/** A value test on the row of a one-value-per-profile table (traits, computed values): absent rows fail positive tests. */
function rowTest(ctx: CompileContext, from: Sql, test: ValueTest): Sql {
  const [negated, pos] = positiveOf(test);
  const exists = sql`exists (select 1 from ${from} and ${positive(ctx.engine, traitOperand(sql.ref('v.value')), pos)})`;
  return negated ? sql`not ${exists}` : exists;
}

/** One scope: the profiles of a collection, the derived tables its event conditions join, and its condition. */
class Scope {
  private readonly joins: Sql[] = [];
  constructor(private readonly ctx: CompileContext, readonly collection: Collection, private readonly alias: string) {}

  query(condition: Condition): Sql {
    const where = this.expr(condition);
    const { relations: r, workspaceId } = this.ctx;
    const p = sql.raw(this.alias);
    return sql`select ${p}.id from ${sql.table(r.profiles)} ${p} ${sql.join(this.joins, sql` `)}
      where ${p}.workspace_id = ${workspaceId} and ${p}.collection = ${this.collection} and ${p}.merged_into is null and ${where}`;
  }

  private expr(c: Condition): Sql {
    const { ctx } = this;
    const id = sql.raw(`${this.alias}.id`);
    if ('all' in c) return sql`(${sql.join(c.all.map((x) => this.expr(x)), sql` and `)})`;
    if ('any' in c) return sql`(${sql.join(c.any.map((x) => this.expr(x)), sql` or `)})`;
    if ('not' in c) return sql`not ${this.expr(c.not)}`;
    if ('trait' in c) return rowTest(ctx, sql`${sql.table(ctx.relations.traits)} v where v.profile_id = ${id} and v.name = ${c.trait}`, c);
    if ('computed_trait' in c) {
      return rowTest(ctx, sql`computed_values v where v.trait_id = ${ctx.computedTraitId(c.computed_trait)} and v.profile_id = ${id}`, c);
    }
    if ('audience' in c) {
      const member = sql`exists (select 1 from audience_members m where m.audience_id = ${ctx.audienceId(c.audience)} and m.profile_id = ${id})`;
      return (c.member ?? true) ? member : sql`not ${member}`;
    }
    if ('event' in c) {
      const alias = `${this.alias}_e${this.joins.length}`;
      this.joins.push(sql`left join (${this.eventCounts(c.event, windowStart(c.within, ctx.now))}) ${sql.raw(alias)} on ${sql.raw(alias)}.profile_id = ${id}`);
      const n = sql`coalesce(${sql.raw(alias)}.n, 0)`;
      const { op, value } = c.count ?? { op: 'at_least', value: 1 };
      return op === 'at_least' ? sql`${n} >= ${value}` : op === 'at_most' ? sql`${n} <= ${value}` : sql`${n} = ${value}`;
    }
    // account: some live account the user is linked to meets the condition.
    const accounts = new Scope(ctx, 'accounts', `${this.alias}a`).query(c.account);
    return sql`${id} in (select l.user_profile_id from ${sql.table(ctx.relations.links)} l where l.account_profile_id in (${accounts}))`;
  }

  /** Matching events per profile of this workspace since `from`, as (profile_id, n). */
  private eventCounts(filter: EventFilter, from: number): Sql {
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
    return sql`select pe.profile_id, count(*) as n from ${sql.table(ctx.relations.timeline)} pe ${join} where ${sql.join(conditions, sql` and `)} group by pe.profile_id`;
  }
}

/** The query of an audience's members (a column `id`). */
export function compileAudience(ctx: CompileContext, collection: Collection, condition: Condition): Sql {
  return new Scope(ctx, collection, 'p').query(condition);
}
