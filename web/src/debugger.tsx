import { Badge, Button, Card, Group, SegmentedControl, Stack, Table, Text, Title, UnstyledButton } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Fragment, useEffect, useMemo, useState } from 'react';
import { api } from './api';
import { ErrorPanel, Json, When } from './ui';

export interface DebuggerEntry {
  status: 'accepted' | 'rejected';
  offset?: number;
  rejectionId?: number;
  receivedAt: string;
  type: string | null;
  event: string | null;
  messageId: string | null;
  userId: string | null;
  anonymousId: string | null;
  reason: string | null;
  payload: unknown;
}

const keyOf = (e: DebuggerEntry) => (e.offset !== undefined ? `o${e.offset}` : `r${e.rejectionId}`);
const MAX_ENTRIES = 500;

type Connection = 'connecting' | 'live' | 'paused' | 'reconnecting';

/** The newest events of a source, then each new one as it is stored or refused (server-sent events). */
export function LiveDebugger({ sourceId }: { sourceId: string }) {
  const recent = useQuery({
    queryKey: ['debugger', sourceId],
    queryFn: () => api.get<{ data: DebuggerEntry[] }>(`/sources/${sourceId}/debugger?limit=50`).then((r) => r.data),
    staleTime: Infinity,
  });
  const [arrived, setArrived] = useState<DebuggerEntry[]>([]);
  const [paused, setPaused] = useState(false);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [filter, setFilter] = useState('all');
  const [open, setOpen] = useState<string | null>(null);

  useEffect(() => {
    if (paused) {
      setConnection('paused');
      return;
    }
    const stream = new EventSource(`/api/v1/sources/${sourceId}/debugger/stream`);
    stream.onopen = () => setConnection('live');
    stream.onerror = () => setConnection('reconnecting');
    stream.onmessage = (message) => {
      const entry = JSON.parse(message.data) as DebuggerEntry;
      setArrived((list) => [entry, ...list].slice(0, MAX_ENTRIES));
    };
    return () => stream.close();
  }, [sourceId, paused]);

  const entries = useMemo(() => {
    const seen = new Set<string>();
    return [...arrived, ...(recent.data ?? [])].filter((e) => {
      const key = keyOf(e);
      if (seen.has(key)) return false;
      seen.add(key);
      return filter === 'all' || e.status === filter;
    });
  }, [arrived, recent.data, filter]);

  return (
    <Card withBorder>
      <Group justify="space-between" mb="sm">
        <Group gap="sm">
          <Title order={2} size="h4">Live debugger</Title>
          <Badge variant="dot" color={connection === 'live' ? 'green' : connection === 'paused' ? 'gray' : 'orange'} aria-live="polite">
            {connection}
          </Badge>
        </Group>
        <Group gap="sm">
          <SegmentedControl
            size="xs"
            aria-label="Show"
            value={filter}
            onChange={setFilter}
            data={[{ value: 'all', label: 'All' }, { value: 'accepted', label: 'Accepted' }, { value: 'rejected', label: 'Rejected' }]}
          />
          <Button size="xs" variant="default" onClick={() => setPaused((p) => !p)}>{paused ? 'Resume' : 'Pause'}</Button>
          <Button size="xs" variant="subtle" onClick={() => setArrived([])}>Clear</Button>
        </Group>
      </Group>
      {recent.isError && <ErrorPanel error={recent.error} />}
      <Table aria-label="Events" highlightOnHover verticalSpacing={4}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Received</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Call</Table.Th>
            <Table.Th>Who</Table.Th>
            <Table.Th>Reason</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {entries.map((entry) => {
            const key = keyOf(entry);
            return (
              <Fragment key={key}>
                <Table.Tr>
                  <Table.Td><When at={entry.receivedAt} /></Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={entry.status === 'accepted' ? 'green' : 'red'}>{entry.status}</Badge>
                  </Table.Td>
                  <Table.Td>
                    <UnstyledButton onClick={() => setOpen(open === key ? null : key)} aria-expanded={open === key} fw={600} c="blue.8">
                      {entry.type ?? 'unknown'}{entry.event ? `: ${entry.event}` : ''}
                    </UnstyledButton>
                  </Table.Td>
                  <Table.Td><Text size="sm" ff="monospace">{entry.userId ?? entry.anonymousId ?? '—'}</Text></Table.Td>
                  <Table.Td><Text size="sm" c={entry.reason ? 'red.9' : 'dimmed'}>{entry.reason ?? ''}</Text></Table.Td>
                </Table.Tr>
                {open === key && (
                  <Table.Tr>
                    <Table.Td colSpan={5}><Json value={entry.payload} /></Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            );
          })}
        </Table.Tbody>
      </Table>
      {entries.length === 0 && (
        <Stack align="center" py="lg" gap={4}>
          <Text fw={600}>Waiting for events…</Text>
          <Text size="sm" c="dimmed">Install the snippet or send a call with the write key; each one shows up here as it arrives.</Text>
        </Stack>
      )}
    </Card>
  );
}
