import { Anchor, Badge, Button, Group, SegmentedControl, Table, Text, TextInput } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, query } from '../api';
import { ErrorPanel, LoadMore, PageHeader, When } from '../ui';

export interface Identifier {
  type: string;
  value: string;
}

export interface ProfileSummary {
  id: string;
  collection: 'users' | 'accounts';
  createdAt: string;
  updatedAt: string;
  merges: number;
  identifiers: Identifier[];
  traits: Record<string, unknown>;
}

/** What a person calls a profile: its name, else an email, else its first identifier. */
export function profileName(p: Pick<ProfileSummary, 'traits' | 'identifiers'>): string {
  const t = p.traits;
  const name = typeof t.name === 'string' ? t.name : [t.firstName ?? t.first_name, t.lastName ?? t.last_name].filter((x) => typeof x === 'string').join(' ');
  if (name) return name;
  if (typeof t.email === 'string') return t.email;
  const id = p.identifiers.find((i) => i.type !== 'anonymous_id') ?? p.identifiers[0];
  return id ? `${id.type === 'anonymous_id' ? 'Anonymous' : id.type} ${id.value}` : 'Profile';
}

export default function Profiles() {
  const [params, setParams] = useSearchParams();
  const mode = params.get('by') === 'trait' ? 'trait' : 'identifier';
  const collection = params.get('collection') === 'accounts' ? 'accounts' : 'users';
  const q = params.get('q') ?? '';
  const [draft, setDraft] = useState(q);

  const search = {
    collection,
    q: mode === 'identifier' ? q : undefined,
    // name:value, as the API takes it; "plan = pro" and "plan:pro" both work here.
    trait: mode === 'trait' && q ? q.replace(/\s*[=:]\s*/, ':') : undefined,
  };
  const profiles = useInfiniteQuery({
    queryKey: ['profiles', search],
    queryFn: ({ pageParam }) => api.get<{ data: ProfileSummary[]; cursor: { next: string | null } }>(`/profiles${query({ ...search, limit: 50, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.cursor.next ?? undefined,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setParams((p) => {
      p.set('q', draft.trim());
      return p;
    });
  };
  const set = (key: string, value: string) => setParams((p) => {
    p.set(key, value);
    return p;
  });
  const rows = profiles.data?.pages.flatMap((p) => p.data) ?? [];

  return (
    <>
      <PageHeader title="Profiles" description="Every person and account Rapport has resolved from your events, anonymous visitors included." />
      <form onSubmit={submit} role="search" aria-label="Search profiles">
        <Group align="flex-end" mb="md" gap="sm">
          <SegmentedControl aria-label="Collection" value={collection} onChange={(v) => set('collection', v)} data={[{ value: 'users', label: 'People' }, { value: 'accounts', label: 'Accounts' }]} />
          <SegmentedControl aria-label="Search by" value={mode} onChange={(v) => set('by', v)} data={[{ value: 'identifier', label: 'Identifier' }, { value: 'trait', label: 'Trait' }]} />
          <TextInput
            label={mode === 'trait' ? 'Trait (name = value)' : 'Identifier (email, user id, anonymous id…)'}
            placeholder={mode === 'trait' ? 'plan = pro' : 'ada@example.com'}
            value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)}
            style={{ flex: 1, minWidth: 240 }}
          />
          <Button type="submit">Search</Button>
        </Group>
      </form>
      {profiles.isError && <ErrorPanel error={profiles.error} />}
      <Table striped highlightOnHover aria-label="Profiles">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Profile</Table.Th>
            <Table.Th>Identifiers</Table.Th>
            <Table.Th>Merges</Table.Th>
            <Table.Th>Updated</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((p) => (
            <Table.Tr key={p.id}>
              <Table.Td><Anchor component={Link} to={`/profiles/${p.id}`}>{profileName(p)}</Anchor></Table.Td>
              <Table.Td>
                <Group gap={4}>
                  {p.identifiers.slice(0, 4).map((i) => <Badge key={`${i.type}:${i.value}`} variant="outline" color="gray" tt="none">{i.type}: {i.value}</Badge>)}
                  {p.identifiers.length > 4 && <Text size="xs" c="dimmed">+{p.identifiers.length - 4}</Text>}
                </Group>
              </Table.Td>
              <Table.Td>{p.merges}</Table.Td>
              <Table.Td><When at={p.updatedAt} /></Table.Td>
            </Table.Tr>
          ))}
          {profiles.isSuccess && rows.length === 0 && <Table.Tr><Table.Td colSpan={4}>No profile matches.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      <LoadMore list={profiles} />
    </>
  );
}
