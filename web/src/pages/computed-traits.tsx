import { Anchor, Badge, Button, Group, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api';
import { AGGREGATE_KINDS, computedTraitsIn, windowText, type TraitDefinition } from '../computed-trait-form';
import { useSession } from '../session';
import { ErrorPanel, PageHeader, When } from '../ui';
import type { Audience } from './audiences';

export interface ComputedTrait extends TraitDefinition {
  id: string;
  status: string;
  computedAt: string | null;
}

export const kindLabel = (kind: string) => (kind === 'score' ? 'Score' : AGGREGATE_KINDS.find((k) => k.value === kind)?.label ?? kind);

export default function ComputedTraits() {
  const { can } = useSession();
  const traits = useQuery({ queryKey: ['computed-traits'], queryFn: () => api.get<{ data: ComputedTrait[] }>('/computed-traits').then((r) => r.data), refetchInterval: 15_000 });
  const audiences = useQuery({ queryKey: ['audiences'], enabled: can('audiences:read'), queryFn: () => api.get<{ data: Audience[] }>('/audiences').then((r) => r.data) });
  const usedBy = (key: string) => (audiences.data ?? []).filter((a) => computedTraitsIn(a.condition).has(key));
  return (
    <>
      <PageHeader
        title="Computed traits and scores"
        description="Per-profile values computed from events, and scores from rules, kept current as events arrive."
        actions={can('computed_traits:write') && (
          <>
            <Button component={Link} to="/computed-traits/new">New computed trait</Button>
            <Button component={Link} to="/computed-traits/new?kind=score" variant="default">New score</Button>
          </>
        )}
      />
      {traits.isError && <ErrorPanel error={traits.error} />}
      <Table striped highlightOnHover aria-label="Computed traits and scores">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Key</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Events</Table.Th>
            <Table.Th>Window</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Computed</Table.Th>
            <Table.Th>Used by</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {traits.data?.map((t) => (
            <Table.Tr key={t.id}>
              <Table.Td><Anchor component={Link} to={`/computed-traits/${t.key}`}>{t.name}</Anchor></Table.Td>
              <Table.Td><Text size="sm" ff="monospace">{t.key}</Text></Table.Td>
              <Table.Td>{kindLabel(t.kind)}{t.property ? <Text span size="sm" ff="monospace"> {t.property}</Text> : null}</Table.Td>
              <Table.Td>{t.kind === 'score' ? `${t.rules?.length ?? 0} rules` : `${t.event?.type ?? 'track'}${t.event?.name ? ` "${t.event.name}"` : ''}`}</Table.Td>
              <Table.Td>{windowText(t.within)}</Table.Td>
              <Table.Td><Badge variant="light" style={{ width: 'max-content' }} color={t.status === 'ready' ? 'green' : 'orange'}>{t.status === 'ready' ? 'ready' : 'backfilling'}</Badge></Table.Td>
              <Table.Td><When at={t.computedAt} /></Table.Td>
              <Table.Td>
                <Group gap={4}>
                  {usedBy(t.key).map((a) => <Anchor key={a.key} component={Link} to={`/audiences/${a.key}`} size="sm">{a.name}</Anchor>)}
                  {audiences.isSuccess && usedBy(t.key).length === 0 && <Text span size="sm" c="dimmed">none</Text>}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
          {traits.data?.length === 0 && <Table.Tr><Table.Td colSpan={8}>No computed traits or scores yet.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
    </>
  );
}
