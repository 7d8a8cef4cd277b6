import { AreaChart } from '@mantine/charts';
import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api';
import { useSession } from '../session';
import { ErrorPanel, PageHeader, Stat, When } from '../ui';
import { useSources } from './sources';

interface Activity {
  from: string;
  to: string;
  minutes: { at: string; accepted: number; rejected: number }[];
  sources: { sourceId: string; accepted: number; rejected: number; lastEventAt: string | null }[];
  pipeline: { lagEvents: number; logEnd: number };
}

interface Destination {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  failingSince: string | null;
}

interface DeliveryStats {
  queued: number;
  waiting: number;
  deadLetters: number;
  consecutiveFailures: number;
  failingSince: string | null;
  oldestEnqueuedAt: string | null;
}

const LIVE = 10_000;

function lagColor(lag: number): string {
  return lag < 1_000 ? 'green.9' : lag < 50_000 ? 'orange.9' : 'red.9';
}

export default function Overview() {
  const { session, can } = useSession();
  const activity = useQuery({ queryKey: ['stats', 'events', 60], queryFn: () => api.get<Activity>('/stats/events?minutes=60'), refetchInterval: LIVE, enabled: can('sources:read') });
  const sources = useSources();
  const destinations = useQuery({
    queryKey: ['destinations'],
    enabled: can('destinations:read'),
    queryFn: () => api.get<{ data: Destination[] }>('/destinations').then((r) => r.data),
    refetchInterval: LIVE,
  });
  const stats = useQueries({
    queries: (destinations.data ?? []).map((d) => ({
      queryKey: ['destinations', d.id, 'stats'],
      queryFn: () => api.get<DeliveryStats>(`/destinations/${d.id}/stats`),
      refetchInterval: LIVE,
    })),
  });
  const a = activity.data;
  const accepted = a?.minutes.reduce((n, m) => n + m.accepted, 0) ?? 0;
  const rejected = a?.minutes.reduce((n, m) => n + m.rejected, 0) ?? 0;
  const chart = (a?.minutes ?? []).map((m) => ({ minute: new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }), Accepted: m.accepted, Rejected: m.rejected }));
  const failing = stats.filter((s) => s.data && (s.data.failingSince || s.data.consecutiveFailures > 0)).length;
  const deadLetters = stats.reduce((n, s) => n + (s.data?.deadLetters ?? 0), 0);

  return (
    <>
      <PageHeader title="Overview" description={`Workspace ${session.workspace.name}: the last hour, refreshed every ${LIVE / 1000} seconds.`} />
      {activity.isError && <ErrorPanel error={activity.error} />}
      <SimpleGrid cols={{ base: 2, md: 4 }} mb="lg">
        <Stat label="Events (last hour)" value={a ? accepted.toLocaleString() : '…'} hint={a ? `${Math.round(accepted / 60).toLocaleString()} per minute on average` : undefined} />
        <Stat label="Refused (last hour)" value={a ? rejected.toLocaleString() : '…'} color={rejected > 0 ? 'red.9' : undefined} hint="see each reason in a source's debugger" />
        <Stat label="Pipeline lag" value={a ? `${a.pipeline.lagEvents.toLocaleString()} events` : '…'} color={a ? lagColor(a.pipeline.lagEvents) : undefined} hint="accepted, not yet processed" />
        <Stat label="Delivery" value={destinations.data ? (failing === 0 ? 'Healthy' : `${failing} failing`) : '—'} color={failing > 0 ? 'red.9' : 'green.9'} hint={`${deadLetters.toLocaleString()} dead letters`} />
      </SimpleGrid>
      <Card withBorder mb="lg">
        <Title order={2} size="h4" mb="sm">Events per minute</Title>
        <AreaChart
          h={240}
          data={chart}
          dataKey="minute"
          series={[{ name: 'Accepted', color: 'blue.8' }, { name: 'Rejected', color: 'red.8' }]}
          curveType="monotone"
          withDots={false}
          withLegend
          tickLine="x"
          aria-label="Events per minute over the last hour"
        />
      </Card>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">Sources</Title>
          <Table aria-label="Source activity" verticalSpacing={6}>
            <Table.Thead>
              <Table.Tr><Table.Th>Source</Table.Th><Table.Th>Last hour</Table.Th><Table.Th>Last event</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(sources.data ?? []).map((s) => {
                const row = a?.sources.find((x) => x.sourceId === s.id);
                return (
                  <Table.Tr key={s.id}>
                    <Table.Td><Anchor component={Link} to={`/sources/${s.id}`}>{s.name}</Anchor>{!s.enabled && <Badge ml="xs" size="xs" color="gray">disabled</Badge>}</Table.Td>
                    <Table.Td>{(row?.accepted ?? 0).toLocaleString()}{row?.rejected ? <Text span c="red.9" size="sm"> · {row.rejected} refused</Text> : null}</Table.Td>
                    <Table.Td>{row?.lastEventAt ? <When at={row.lastEventAt} /> : <Text span size="sm" c="dimmed">none this hour</Text>}</Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">Delivery health</Title>
          {!can('destinations:read') && <Text size="sm" c="dimmed">Your role cannot see destinations.</Text>}
          {destinations.data?.length === 0 && <Text size="sm" c="dimmed">No destinations yet.</Text>}
          <Stack gap="xs">
            {(destinations.data ?? []).map((d, i) => {
              const s = stats[i]?.data;
              const bad = Boolean(s && (s.failingSince || s.consecutiveFailures > 0));
              return (
                <Group key={d.id} justify="space-between" wrap="nowrap">
                  <Stack gap={0}>
                    <Text size="sm" fw={600}>{d.name}</Text>
                    <Text size="xs" c="dimmed">{d.type}{s ? ` · ${s.queued} queued · ${s.waiting} retrying · ${s.deadLetters} dead letters` : ''}</Text>
                  </Stack>
                  <Badge variant="light" color={!d.enabled ? 'gray' : bad ? 'red' : 'green'}>{!d.enabled ? 'disabled' : bad ? 'failing' : 'healthy'}</Badge>
                </Group>
              );
            })}
          </Stack>
        </Card>
      </SimpleGrid>
    </>
  );
}
