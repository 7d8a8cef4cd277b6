import { Alert, Badge, Button, Card, Group, Select, Stack, Table, Text, TextInput, UnstyledButton } from '@mantine/core';
import { useInfiniteQuery, useMutation, useQuery } from '@tanstack/react-query';
import { Fragment, useState, type FormEvent } from 'react';
import { api, query } from '../api';
import { useSession } from '../session';
import { ErrorPanel, Json, PageHeader, When } from '../ui';
import { useRoles } from './roles';

interface AuditEntry {
  id: number;
  seq: number;
  at: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string | null; id: string | null } | null;
  change: unknown;
  status: number | null;
  ip: string | null;
}

interface Filters {
  action?: string;
  actorType?: string;
  targetType?: string;
  from?: string;
  to?: string;
}

const ACTOR_TYPES = [
  { value: 'user', label: 'Member' },
  { value: 'api_key', label: 'API key' },
  { value: 'system', label: 'System' },
  { value: 'anonymous', label: 'Anonymous' },
];

/** A day picked in a date input, as the start of that day (or of the next, for an upper bound) in local time. */
const dayStart = (day: string, next = false) => {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  if (next) d.setDate(d.getDate() + 1);
  return d.toISOString();
};

export default function AuditLog() {
  const { can } = useSession();
  const [filters, setFilters] = useState<Filters>({});
  const [actorType, setActorType] = useState<string | null>(null);
  const [open, setOpen] = useState<number | null>(null);
  const entries = useInfiniteQuery({
    queryKey: ['audit', filters],
    queryFn: ({ pageParam }) => api.get<{ data: AuditEntry[]; nextCursor: string | null }>(`/audit${query({ ...filters, limit: 100, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  // Actors are ids in the log: named here by who they are when this screen may know.
  const members = useQuery({ queryKey: ['users'], enabled: can('users:read'), queryFn: () => api.get<{ data: { id: string; email: string }[] }>('/users').then((r) => r.data) });
  const keys = useQuery({ queryKey: ['api-keys'], enabled: can('api_keys:read'), queryFn: () => api.get<{ data: { id: string; name: string }[] }>('/api-keys').then((r) => r.data) });
  const roles = useRoles(can('roles:read'));
  const nameOf = (type: string | null, id: string | null) => {
    if (!id) return null;
    if (type === 'user') return members.data?.find((m) => m.id === id)?.email;
    if (type === 'api_key') return keys.data?.find((k) => k.id === id)?.name;
    if (type === 'role') return roles.data?.find((r) => r.id === id)?.name;
    return undefined;
  };
  const actorName = (actor: AuditEntry['actor']) => {
    const name = nameOf(actor.type, actor.id) ?? actor.id;
    if (actor.type === 'user') return name;
    return `${actor.type === 'api_key' ? 'API key' : actor.type}${name ? ` ${name}` : ''}`;
  };
  const targetName = (target: AuditEntry['target']) => (target ? [target.type, nameOf(target.type, target.id) ?? target.id].filter(Boolean).join(' ') : '—');

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const text = (name: string) => String(data.get(name) ?? '').trim() || undefined;
    setFilters({ action: text('action'), targetType: text('targetType'), actorType: actorType ?? undefined, from: dayStart(String(data.get('from') ?? '')), to: dayStart(String(data.get('to') ?? ''), true) });
  };
  // Recomputes the workspace's hash chain on the server: whether any entry was altered or removed.
  const verify = useMutation({
    mutationFn: () => api.get<{ ok: boolean; entries: number; erased: number; broken?: { seq: number; message: string } }>('/audit/verify'),
  });
  const exportHref = (format: 'csv' | 'jsonl') => `/api/v1/audit/export${query({ ...filters, format })}`;
  const items = entries.data?.pages.flatMap((p) => p.data) ?? [];

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every management and CRM change, sign-ins and privacy requests: who did what to which record, and when. Entries are hash-chained."
      />
      <Stack gap="lg">
        <Card withBorder>
          <form onSubmit={submit} aria-label="Filter the audit log">
            <Group align="flex-end" gap="xs">
              <TextInput label="Action" name="action" placeholder="role or crm.deal.update" w={180} />
              <Select label="Actor" placeholder="Anyone" clearable value={actorType} onChange={setActorType} data={ACTOR_TYPES} w={150} />
              <TextInput label="Target type" name="targetType" placeholder="api_key" w={140} />
              <TextInput label="From" name="from" type="date" w={140} />
              <TextInput label="To" name="to" type="date" w={140} />
              <Button type="submit" variant="default">Apply filters</Button>
              <Group gap="xs" ml="auto">
                <Button component="a" href={exportHref('csv')} variant="subtle" download>Export CSV</Button>
                <Button component="a" href={exportHref('jsonl')} variant="subtle" download>Export JSON lines</Button>
              </Group>
            </Group>
          </form>
        </Card>
        <Card withBorder>
          {entries.isError && <ErrorPanel error={entries.error} />}
          <Table aria-label="Audit log" verticalSpacing={6} striped>
            <Table.Thead>
              <Table.Tr><Table.Th>Time</Table.Th><Table.Th>Actor</Table.Th><Table.Th>Action</Table.Th><Table.Th>Target</Table.Th><Table.Th>Result</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((e) => (
                <Fragment key={e.id}>
                  <Table.Tr>
                    <Table.Td><Text size="sm"><When at={e.at} /></Text></Table.Td>
                    <Table.Td><Text size="sm">{actorName(e.actor)}</Text></Table.Td>
                    <Table.Td>
                      <UnstyledButton ff="monospace" fz="sm" onClick={() => setOpen(open === e.id ? null : e.id)} aria-expanded={open === e.id} aria-label={`${e.action}: show the change`}>{e.action}</UnstyledButton>
                    </Table.Td>
                    <Table.Td><Text size="sm" title={e.target?.id ?? undefined}>{targetName(e.target)}</Text></Table.Td>
                    <Table.Td>{e.status !== null && <Badge variant="light" color={e.status < 400 ? 'green' : 'red'}>{e.status}</Badge>}</Table.Td>
                  </Table.Tr>
                  {open === e.id && (
                    <Table.Tr>
                      <Table.Td colSpan={5}>
                        <Text size="xs" c="dimmed" mb={4}>Entry {e.seq}{e.ip ? ` · from ${e.ip}` : ''}</Text>
                        {e.change === null ? <Text size="sm" c="dimmed">No change recorded.</Text> : <Json value={e.change} />}
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
              {entries.isSuccess && items.length === 0 && <Table.Tr><Table.Td colSpan={5}>No entries match.</Table.Td></Table.Tr>}
            </Table.Tbody>
          </Table>
          {entries.hasNextPage && (
            <Button mt="sm" variant="default" loading={entries.isFetchingNextPage} onClick={() => void entries.fetchNextPage()}>Older entries</Button>
          )}
          <Group mt="sm" gap="sm">
            <Text size="xs" c="dimmed">Exports follow the filters above.</Text>
            <Button size="compact-xs" variant="subtle" loading={verify.isPending} onClick={() => verify.mutate()}>Verify the chain</Button>
          </Group>
          {verify.data && (
            <Alert mt="xs" role="status" color={verify.data.ok ? 'green' : 'red'} title={verify.data.ok ? 'The chain holds' : 'The chain is broken'}>
              {verify.data.ok
                ? `${verify.data.entries.toLocaleString()} entries checked against their hashes${verify.data.erased ? `, ${verify.data.erased} with an erased change` : ''}.`
                : `At entry ${verify.data.broken?.seq}: ${verify.data.broken?.message}`}
            </Alert>
          )}
          {verify.isError && <ErrorPanel error={verify.error} />}
        </Card>
      </Stack>
    </>
  );
}
