import { sql, type Generated, type Kysely, type RawBuilder } from 'kysely';
import { isPostgres } from '../../platform/db/migrate.js';
import { errors } from '../../platform/errors.js';

export const SEARCH_OBJECTS = ['contact', 'company', 'deal', 'ticket'] as const;
export type SearchObject = (typeof SEARCH_OBJECTS)[number];

/**
 * One searchable document per record: what is shown of it in results (`title`, `subtitle`) and the words it
 * is found by, `head` (its name, ranked first) and `rest` (email, phone, domain, description…), both already
 * folded by `words` so the two engines index the same tokens.
 */
export interface SearchDocument {
  workspaceId: string;
  object: SearchObject;
  recordId: string;
  title: string;
  subtitle: string;
  head: string;
  rest: string;
}

export interface SearchHit { object: SearchObject; id: string; title: string; subtitle: string }

interface SearchRow { id: Generated<number>; workspace_id: string; object: string; record_id: string; title: string; subtitle: string; head: string; rest: string; updated_at: number }

const MAX_TERMS = 8;
/**
 * At most this many matches are ranked (SQLite: the newest; PostgreSQL: the first the index gives): a word
 * most records hold ("com", "example") then costs a bounded time, and the best of them is as good as any.
 */
const RANKED = 5_000;
const MAX_REST = 4_000;

/** Lower-case words without accents or punctuation: "Zoë O'Brien-Smith" → zoe o brien smith. */
export function words(text: string): string[] {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/** The distinct words of every value given (strings and numbers; others skipped), space-separated. */
export function wordsOf(...values: unknown[]): string {
  const out = new Set<string>();
  for (const v of values) {
    if (typeof v === 'string' || typeof v === 'number') for (const w of words(String(v))) out.add(w);
  }
  return [...out].join(' ');
}

/**
 * An email address or a domain is also one word, its own words run together, and an email's domain too:
 * "ann.lee@acme.com" is found as annleeacmecom and acmecom. A query that looks like one ("ann.lee@ac",
 * "acme.com") is looked up as that single word (see `matchOf`), rather than as words of which one, "com",
 * is in nearly every document.
 */
export function addressWords(...addresses: unknown[]): string {
  const out = new Set<string>();
  for (const a of addresses) {
    if (typeof a !== 'string') continue;
    const joined = words(a).join('');
    if (joined) out.add(joined);
    const at = a.lastIndexOf('@');
    const domain = at >= 0 ? words(a.slice(at + 1)).join('') : '';
    if (domain) out.add(domain);
  }
  return [...out].join(' ');
}

/** An email address, or a domain, being typed: one token with an @, or with a dot between a letter or digit and two letters (not initials: "j.r."). */
const ADDRESS_QUERY = /^\S*(?:@|[\p{L}\p{N}]\.\p{L}{2})\S*$/u;

/**
 * A phone number is also found by its digits alone, with or without its country and area codes: "+1 (415)
 * 555-0100" by 14155550100, 4155550100 or 5550100 (every ending of seven digits or more).
 */
export function phoneDigits(phone: unknown): string | undefined {
  const digits = typeof phone === 'string' ? phone.replace(/\D+/g, '') : '';
  if (digits.length === 0) return undefined;
  const endings = [digits];
  for (let i = 1; digits.length - i >= 7; i++) endings.push(digits.slice(i));
  return endings.join(' ');
}

/** A word of a query, and whether a document's word need only begin with it. */
interface Term { word: string; prefix: boolean }

/**
 * The words of a query: every word must be in the document, as a word prefix ("jan smi" finds Jane Smith). A
 * one-letter word matches a whole word, unless it ends a query of several words (being typed: "search m"):
 * alone, a prefix that short matches most of the index and is no help. A query that looks like an email
 * address or a domain is one word, a prefix of `addressWords`' joined ones. Undefined when the query has no word.
 */
function termsOf(q: string): Term[] | undefined {
  const trimmed = q.trim();
  if (ADDRESS_QUERY.test(trimmed) && words(trimmed).join('').length > 1) return [{ word: words(trimmed).join(''), prefix: true }];
  const terms = [...new Set(words(q))].slice(0, MAX_TERMS);
  if (terms.length === 0) return undefined;
  return terms.map((word, i) => ({ word, prefix: word.length > 1 || (i === terms.length - 1 && terms.length > 1) }));
}

/** The terms as each engine's match expression; `whole`: every word as a whole word, prefixes too. */
function matchOf(terms: Term[], postgres: boolean, whole = false): string {
  const prefix = (t: Term) => t.prefix && !whole;
  return postgres
    ? terms.map((t) => (prefix(t) ? `${t.word}:*` : t.word)).join(' & ')
    : terms.map((t) => (prefix(t) ? `"${t.word}"*` : `"${t.word}"`)).join(' AND ');
}

function termsOrRefuse(q: string): Term[] {
  const terms = termsOf(q);
  if (!terms) throw errors.invalidRequest('The search has no word to look for: q needs a letter or a digit.');
  return terms;
}

/**
 * The full-text index of the CRM's records. SQLite: a contentless FTS5 table (two columns, the name ranked ten
 * times the rest by bm25) beside `crm_search`, keyed by its rowid. PostgreSQL: a weighted `tsvector` column of
 * `crm_search` under a GIN index, ranked by ts_rank. Documents are written in the transaction of the change
 * they follow (a deal's, a ticket's, the pipeline batch that changed a profile's traits).
 */
export function createSearch() {
  const t = (db: Kysely<any>) => db as Kysely<{ crm_search: SearchRow }>;

  async function drop(db: Kysely<any>, object: SearchObject, recordIds: string[]) {
    if (recordIds.length === 0) return;
    if (!isPostgres(db)) {
      await sql`delete from crm_search_fts where rowid in (select id from crm_search where object = ${object} and record_id in (${sql.join(recordIds)}))`.execute(db);
    }
    await t(db).deleteFrom('crm_search').where('object', '=', object).where('record_id', 'in', recordIds).execute();
  }

  /**
   * Rewrites SQLite's FTS5 index without what was deleted from it: a contentless table only marks deleted
   * rows, and their words stay in its segments until they are merged. A privacy deletion must not leave
   * them; it costs a rewrite of the whole index (rare, and worth it). PostgreSQL's tsvector goes with its row.
   */
  async function compact(db: Kysely<any>) {
    if (!isPostgres(db)) await sql`insert into crm_search_fts (crm_search_fts) values ('optimize')`.execute(db);
  }

  /** Writes documents, replacing those of the same records; a document that has not changed is left alone. */
  async function put(db: Kysely<any>, docs: SearchDocument[], now: number) {
    const pg = isPostgres(db);
    for (const object of SEARCH_OBJECTS) {
      const mine = docs.filter((d) => d.object === object).map((d) => ({ ...d, rest: d.rest.slice(0, MAX_REST) }));
      for (let i = 0; i < mine.length; i += 500) {
        const chunk = mine.slice(i, i + 500);
        const stored = new Map((await t(db).selectFrom('crm_search').selectAll().where('object', '=', object).where('record_id', 'in', chunk.map((d) => d.recordId)).execute()).map((r) => [r.record_id, r]));
        const changed = chunk.filter((d) => {
          const s = stored.get(d.recordId);
          return !s || s.title !== d.title || s.subtitle !== d.subtitle || s.head !== d.head || s.rest !== d.rest;
        });
        if (changed.length === 0) continue;
        const rows = changed.map((d) => ({ workspace_id: d.workspaceId, object, record_id: d.recordId, title: d.title, subtitle: d.subtitle, head: d.head, rest: d.rest, updated_at: now }));
        if (pg) {
          await t(db).insertInto('crm_search').values(rows)
            .onConflict((oc) => oc.columns(['object', 'record_id']).doUpdateSet((eb) => ({ title: eb.ref('excluded.title'), subtitle: eb.ref('excluded.subtitle'), head: eb.ref('excluded.head'), rest: eb.ref('excluded.rest'), updated_at: eb.ref('excluded.updated_at') })))
            .execute();
          continue;
        }
        // SQLite: the FTS rows of changed documents are deleted by rowid and written again with the new words.
        const old = changed.map((d) => stored.get(d.recordId)?.id).filter((id): id is number => id !== undefined);
        if (old.length) await sql`delete from crm_search_fts where rowid in (${sql.join(old)})`.execute(db);
        const written = await t(db).insertInto('crm_search').values(rows)
          .onConflict((oc) => oc.columns(['object', 'record_id']).doUpdateSet((eb) => ({ title: eb.ref('excluded.title'), subtitle: eb.ref('excluded.subtitle'), head: eb.ref('excluded.head'), rest: eb.ref('excluded.rest'), updated_at: eb.ref('excluded.updated_at') })))
          .returning(['id', 'head', 'rest']).execute();
        await sql`insert into crm_search_fts (rowid, head, rest) values ${sql.join(written.map((w) => sql`(${w.id}, ${w.head}, ${w.rest})`))}`.execute(db);
      }
    }
  }

  return {
    compact,
    put,
    drop,

    /**
     * Records of the workspace matching every word of `q` (word prefixes), best first: those with every word
     * whole before the rest, then the name weighs more than the rest, then the newest document. `objects`
     * narrows to some kinds of record. Of a query matching
     * more than RANKED records, the best of RANKED of them. `visible`, a condition on the document (alias `s`),
     * leaves out the records the caller may not see before ranking, so a page is short only when matches run out.
     */
    async find(db: Kysely<any>, workspaceId: string, q: string, options: { objects?: SearchObject[]; limit: number; visible?: RawBuilder<boolean> }): Promise<SearchHit[]> {
      const pg = isPostgres(db);
      const terms = termsOrRefuse(q);
      const objects = sql`${options.objects?.length ? sql`and s.object in (${sql.join(options.objects)})` : sql``} ${options.visible ? sql`and ${options.visible}` : sql``}`;
      const ranked = async (match: string) => (pg
        ? await sql<{ object: SearchObject; record_id: string; title: string; subtitle: string }>`select c.object, c.record_id, c.title, c.subtitle from (
              select s.id, s.object, s.record_id, s.title, s.subtitle, ts_rank(s.words, query) as score from crm_search s, to_tsquery('simple', ${match}) query
              where s.workspace_id = ${workspaceId} and s.words @@ query ${objects} limit ${RANKED}) c
            order by c.score desc, c.id desc limit ${options.limit}`.execute(db)
        : await sql<{ object: SearchObject; record_id: string; title: string; subtitle: string }>`select c.object, c.record_id, c.title, c.subtitle from (
              select s.id, s.object, s.record_id, s.title, s.subtitle, bm25(crm_search_fts, 10.0, 1.0) as score from crm_search_fts f join crm_search s on s.id = f.rowid
              where crm_search_fts match ${match} and s.workspace_id = ${workspaceId} ${objects} order by f.rowid desc limit ${RANKED}) c
            order by c.score, c.id desc limit ${options.limit}`.execute(db)).rows;
      // Whole words first: "smith" ranks Smith above Smithson. When they fill the page, the prefixes are not
      // read at all, and a word most records hold costs one word's matches rather than every word it begins
      // (FTS5 merges the lists of all the words of a prefix before the first result).
      const exact = terms.some((t) => t.prefix) ? await ranked(matchOf(terms, pg, true)) : [];
      let rows = exact;
      if (exact.length < options.limit) {
        const seen = new Set(exact.map((r) => `${r.object}:${r.record_id}`));
        rows = [...exact, ...(await ranked(matchOf(terms, pg))).filter((r) => !seen.has(`${r.object}:${r.record_id}`))].slice(0, options.limit);
      }
      return rows.map((r) => ({ object: r.object, id: r.record_id, title: r.title, subtitle: r.subtitle }));
    },

    /** The ids of one kind of record matching `q`, as a subquery for a list's `where id in (…)`. */
    matching(db: Kysely<any>, workspaceId: string, object: SearchObject, q: string): RawBuilder<unknown> {
      const pg = isPostgres(db);
      const match = matchOf(termsOrRefuse(q), pg);
      return pg
        ? sql`select s.record_id from crm_search s where s.workspace_id = ${workspaceId} and s.object = ${object} and s.words @@ to_tsquery('simple', ${match})`
        : sql`select s.record_id from crm_search_fts f join crm_search s on s.id = f.rowid where crm_search_fts match ${match} and s.workspace_id = ${workspaceId} and s.object = ${object}`;
    },

    /**
     * Whether the document of the record `id` (an SQL expression) matches `q`, tested on that one document: for
     * a list that walks its records in its own order and meets a match every few rows, where reading every
     * match first would cost more than the page (a common word: a fifth of a million contacts). SQLite tests the
     * stored words (FTS5 would merge every word of a prefix again for each record); PostgreSQL its tsvector.
     * Its alias, `doc`, is its own: `id` may name a column of an outer `s` (the walk along computed values).
     */
    documentMatches(db: Kysely<any>, workspaceId: string, object: SearchObject, q: string): (id: RawBuilder<unknown>) => RawBuilder<unknown> {
      const terms = termsOrRefuse(q);
      if (isPostgres(db)) {
        const match = matchOf(terms, true);
        return (id) => sql`exists (select 1 from crm_search doc where doc.object = ${object} and doc.record_id = ${id} and doc.workspace_id = ${workspaceId} and doc.words @@ to_tsquery('simple', ${match}))`;
      }
      // The stored words are folded and space-separated: a word is found after a space, a whole word before one too.
      const tests = terms.map((t) => sql`instr(' ' || doc.head || ' ' || doc.rest || ' ', ${` ${t.word}${t.prefix ? '' : ' '}`}) > 0`);
      return (id) => sql`exists (select 1 from crm_search doc where doc.object = ${object} and doc.record_id = ${id} and doc.workspace_id = ${workspaceId} and ${sql.join(tests, sql` and `)})`;
    },
  };
}

export type Search = ReturnType<typeof createSearch>;

/** A deal is found by its name; its stage and amount are shown beside it. */
export function dealDocument(deal: { id: string; workspace_id: string; name: string; amount: number | null; currency: string }, stageName: string | undefined): SearchDocument {
  return {
    workspaceId: deal.workspace_id, object: 'deal', recordId: deal.id, title: deal.name,
    subtitle: [stageName, deal.amount === null ? undefined : `${deal.amount} ${deal.currency}`].filter(Boolean).join(' · '),
    head: wordsOf(deal.name), rest: '',
  };
}

/** The email addresses and domains written in a text ("write to ann@acme.com, see acme.com."). */
function addressesIn(text: string): string[] {
  return text.split(/\s+/).map((token) => token.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '')).filter((token) => ADDRESS_QUERY.test(token)).slice(0, 50);
}

/** A ticket is found by its subject and its description (and the addresses in them, as `addressWords`). */
export function ticketDocument(ticket: { id: string; workspace_id: string; subject: string; description: string | null; status: string; priority: string }): SearchDocument {
  return {
    workspaceId: ticket.workspace_id, object: 'ticket', recordId: ticket.id, title: ticket.subject,
    subtitle: `${ticket.status} · ${ticket.priority}`, head: wordsOf(ticket.subject),
    rest: [wordsOf(ticket.description), addressWords(...addressesIn(`${ticket.subject} ${ticket.description ?? ''}`))].filter(Boolean).join(' '),
  };
}
