import { Anchor, Badge, Button, Card, Code, Group, SimpleGrid, Stack, Switch, Table, Tabs, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { api, messageOf } from '../api';
import { DestinationForm, targetOf, type Destination } from '../destination-form';
import { useSession } from '../session';
import { Confirm, ErrorPanel, PageHeader, Stat, When } from '../ui';

interface Stats {
  queued: number;
  waiting: number;
  deadLetters: number;
  lastHour: { outcome: string; events: number; requests: number }[];
  consecutiveFailures: number;
}

interface Attempt {
  id: number;
  at: string;
  outcome: string;
  statusCode: number | null;
  latencyMs: number | null;
  events: number;
  error: string | null;
  response: string | null;
}

interface DeadLetter {
  id: number;
  attempts: number;
  enqueuedAt: string;
  failedAt: string;
  reason: string;
  statusCode: number | null;
  error: string | null;
  response: string | null;
}

// A refused request (4xx) is `failed` and dead-lettered at once; a `retry` is tried again later.
const OUTCOME_COLOR: Record<string, string> = { delivered: 'green', retry: 'yellow', failed: 'red' };
// The delivery log moves while the screen is open: it is followed, not fetched once.
const FOLLOW_MS = 2_000;
/** What the destination said: the error, then the start of its answer. */
const answerOf = (x: { error: string | null; response: string | null }) => [x.error, x.response].filter(Boolean).join(' · ');
const figure = (n: number | undefined) => (n === undefined ? '…' : n.toLocaleString());

export default function DestinationPage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const canWrite = can('destinations:write');
  const [deleting, del] = useDisclosure(false);
  const destination = useQuery({ queryKey: ['destinations', id], queryFn: () => api.get<Destination>(`/destinations/${id}`) });
  const stats = useQuery({ queryKey: ['destinations', id, 'stats'], queryFn: () => api.get<Stats>(`/destinations/${id}/stats`), refetchInterval: FOLLOW_MS });
  const attempts = useQuery({ queryKey: ['destinations', id, 'attempts'], queryFn: () => api.get<{ data: Attempt[] }>(`/destinations/${id}/attempts?limit=100`).then((r) => r.data), refetchInterval: FOLLOW_MS });
  const letters = useQuery({ queryKey: ['destinations', id, 'dead-letters'], queryFn: () => api.get<{ data: DeadLetter[] }>(`/destinations/${id}/dead-letters?limit=100`).then((r) => r.data), refetchInterval: FOLLOW_MS });

  const saved = (next: Destination) => {
    client.setQueryData(['destinations', id], next);
    void client.invalidateQueries({ queryKey: ['destinations'], exact: true });
  };
  const failed = (title: string) => (error: unknown) => notifications.show({ color: 'red', title, message: messageOf(error) });
  const update = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.patch<Destination>(`/destinations/${id}`, body),
    onSuccess: (next) => {
      saved(next);
      notifications.show({ color: 'green', title: 'Destination saved', message: next.name });
    },
  });
  const toggle = useMutation({ mutationFn: (enabled: boolean) => api.patch<Destination>(`/destinations/${id}`, { enabled }), onSuccess: saved, onError: failed('Not saved') });
  const test = useMutation({
    mutationFn: () => api.post<{ ok: boolean; statusCode: number | null; latencyMs: number; error: string | null }>(`/destinations/${id}/test`),
    onSuccess: (r) => notifications.show({
      color: r.ok ? 'green' : 'red', title: r.ok ? 'Test event delivered' : 'Test event refused',
      message: `${r.statusCode ?? 'no answer'} in ${r.latencyMs} ms${r.error ? `: ${r.error}` : ''}`,
    }),
    onError: failed('Test not sent'),
  });
  const replay = useMutation({
    mutationFn: (ids?: number[]) => api.post<{ requeued: number }>(`/destinations/${id}/dead-letters/replay`, ids ? { ids } : {}),
    onSuccess: (r) => {
      notifications.show({ color: 'green', title: 'Replaying', message: `${r.requeued} message${r.requeued === 1 ? '' : 's'} queued again.` });
      void client.invalidateQueries({ queryKey: ['destinations', id] });
    },
    onError: failed('Not replayed'),
  });
  const discard = useMutation({
    mutationFn: () => api.delete<{ discarded: number }>(`/destinations/${id}/dead-letters`, { body: {} }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['destinations', id] }),
    onError: failed('Not discarded'),
  });
  const remove = useMutation({
    mutationFn: () => api.delete(`/destinations/${id}`),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['destinations'] });
      navigate('/destinations');
    },
  });

  if (destination.isError) return <ErrorPanel error={destination.error} />;
  if (!destination.data) return null;
  const d = destination.data;
  const delivered = stats.data?.lastHour.find((h) => h.outcome === 'delivered')?.events ?? (stats.data ? 0 : undefined);
  const editable = d.type === 'webhook' || d.type === 'segment';

  return (
    <>
      <PageHeader
        title={d.name}
        description={<><Anchor component={Link} to="/destinations" size="sm">Destinations</Anchor> · {d.type.replace('_', ' ')} to <Code>{targetOf(d)}</Code></>}
        actions={
          <>
            {d.failingSince && <Badge variant="light" color="red" title={`Failing since ${new Date(d.failingSince).toLocaleString()}`}>failing</Badge>}
            <Switch label="Enabled" checked={d.enabled} disabled={!canWrite || toggle.isPending} onChange={(e) => toggle.mutate(e.currentTarget.checked)} />
            {canWrite && <Button variant="default" loading={test.isPending} onClick={() => test.mutate()}>Send test event</Button>}
          </>
        }
      />
      <Stack gap="lg">
        <SimpleGrid cols={{ base: 2, md: 4 }}>
          <Stat label="Delivered (last hour)" value={figure(delivered)} hint="events" />
          <Stat label="Queued" value={figure(stats.data?.queued)} hint="waiting to be sent" />
          <Stat label="Retrying" value={figure(stats.data?.waiting)} hint="waiting for their next attempt" />
          <Stat label="Dead letters" value={figure(stats.data?.deadLetters)} color={(stats.data?.deadLetters ?? 0) > 0 ? 'red.9' : undefined} hint="given up on; replay them below" />
        </SimpleGrid>
        <Tabs defaultValue="log" keepMounted={false}>
          <Tabs.List>
            <Tabs.Tab value="log">Delivery log</Tabs.Tab>
            <Tabs.Tab value="dead">Dead letters{letters.data?.length ? ` (${letters.data.length})` : ''}</Tabs.Tab>
            <Tabs.Tab value="settings">Settings</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="log" pt="md">
            {attempts.isError && <ErrorPanel error={attempts.error} />}
            <Table aria-label="Delivery log" verticalSpacing={6} striped>
              <Table.Thead>
                <Table.Tr><Table.Th>Time</Table.Th><Table.Th>Outcome</Table.Th><Table.Th>Status</Table.Th><Table.Th>Events</Table.Th><Table.Th>Latency</Table.Th><Table.Th>Answer</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {attempts.data?.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td><When at={a.at} /></Table.Td>
                    <Table.Td><Badge variant="light" color={OUTCOME_COLOR[a.outcome] ?? 'gray'}>{a.outcome.replace('_', ' ')}</Badge></Table.Td>
                    <Table.Td>{a.statusCode ?? '—'}</Table.Td>
                    <Table.Td>{a.events}</Table.Td>
                    <Table.Td>{a.latencyMs === null ? '—' : `${a.latencyMs} ms`}</Table.Td>
                    <Table.Td><Text size="xs" ff="monospace" lineClamp={2} maw={420}>{answerOf(a)}</Text></Table.Td>
                  </Table.Tr>
                ))}
                {attempts.data?.length === 0 && <Table.Tr><Table.Td colSpan={6}>Nothing sent yet.</Table.Td></Table.Tr>}
              </Table.Tbody>
            </Table>
          </Tabs.Panel>
          <Tabs.Panel value="dead" pt="md">
            <Group justify="space-between" mb="sm">
              <Text size="sm" c="dimmed">Messages given up on: refused by the destination, or still failing when their retries ran out.</Text>
              {canWrite && (letters.data?.length ?? 0) > 0 && (
                <Group gap="xs">
                  <Button size="xs" loading={replay.isPending} onClick={() => replay.mutate(undefined)}>Replay all</Button>
                  <Button size="xs" variant="subtle" color="red" loading={discard.isPending} onClick={() => discard.mutate()}>Discard all</Button>
                </Group>
              )}
            </Group>
            {letters.isError && <ErrorPanel error={letters.error} />}
            <Table aria-label="Dead letters" verticalSpacing={6}>
              <Table.Thead>
                <Table.Tr><Table.Th>Failed</Table.Th><Table.Th>Why</Table.Th><Table.Th>Status</Table.Th><Table.Th>Attempts</Table.Th><Table.Th>Answer</Table.Th><Table.Th /></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {letters.data?.map((l) => (
                  <Table.Tr key={l.id}>
                    <Table.Td><When at={l.failedAt} /></Table.Td>
                    <Table.Td>{l.reason.replace('_', ' ')}</Table.Td>
                    <Table.Td>{l.statusCode ?? '—'}</Table.Td>
                    <Table.Td>{l.attempts}</Table.Td>
                    <Table.Td><Text size="xs" ff="monospace" lineClamp={2} maw={360}>{answerOf(l)}</Text></Table.Td>
                    <Table.Td>{canWrite && <Button size="compact-xs" variant="subtle" aria-label={`Replay dead letter ${l.id}`} onClick={() => replay.mutate([l.id])}>Replay</Button>}</Table.Td>
                  </Table.Tr>
                ))}
                {letters.data?.length === 0 && <Table.Tr><Table.Td colSpan={6}>No dead letters.</Table.Td></Table.Tr>}
              </Table.Tbody>
            </Table>
          </Tabs.Panel>
          <Tabs.Panel value="settings" pt="md">
            <Card withBorder maw={640}>
              <Title order={2} size="h4" mb="sm">Settings</Title>
              {canWrite && editable
                ? <DestinationForm key={d.updatedAt} destination={d} pending={update.isPending} error={update.error} onSubmit={(body) => update.mutate(body)} />
                : <Text size="sm" c="dimmed">{editable ? 'Your role may not change destinations.' : 'Audience syncs are configured through the API.'}</Text>}
              {canWrite && (
                <Group mt="lg" pt="md" style={{ borderTop: '1px solid var(--mantine-color-gray-3)' }}>
                  <Button variant="subtle" color="red" onClick={del.open}>Delete destination</Button>
                </Group>
              )}
            </Card>
          </Tabs.Panel>
        </Tabs>
      </Stack>
      <Confirm opened={deleting} onClose={del.close} title="Delete this destination?" action="Delete" pending={remove.isPending} error={remove.error} onConfirm={() => remove.mutate()}>
        {d.name} stops receiving events; its queue, dead letters and delivery log are deleted.
      </Confirm>
    </>
  );
}
