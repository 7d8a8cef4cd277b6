import { Anchor, Badge, Button, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api';
import { useSession } from '../session';
import { ErrorPanel, PageHeader, When } from '../ui';

export interface Audience {
  id: string;
  key: string;
  name: string;
  description: string | null;
  collection: 'users' | 'accounts';
  condition: unknown;
  status: string;
  size: number;
  computedAt: string | null;
  createdAt: string;
}

export default function Audiences() {
  const { can } = useSession();
  const audiences = useQuery({ queryKey: ['audiences'], queryFn: () => api.get<{ data: Audience[] }>('/audiences').then((r) => r.data), refetchInterval: 15_000 });
  return (
    <>
      <PageHeader
        title="Audiences"
        description="People (or accounts) who meet a condition on traits, events, scores or other audiences, kept up to date as events arrive."
        actions={(
          <>
            {can('computed_traits:read') && <Button component={Link} to="/computed-traits" variant="default">Computed traits and scores</Button>}
            {can('audiences:write') && <Button component={Link} to="/audiences/new">New audience</Button>}
          </>
        )}
      />
      {audiences.isError && <ErrorPanel error={audiences.error} />}
      <Table striped highlightOnHover aria-label="Audiences">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Key</Table.Th>
            <Table.Th>Of</Table.Th>
            <Table.Th>Size</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Computed</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {audiences.data?.map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td><Anchor component={Link} to={`/audiences/${a.key}`}>{a.name}</Anchor></Table.Td>
              <Table.Td><Text size="sm" ff="monospace">{a.key}</Text></Table.Td>
              <Table.Td>{a.collection === 'users' ? 'people' : 'accounts'}</Table.Td>
              <Table.Td>{a.size.toLocaleString()}</Table.Td>
              <Table.Td><Badge variant="light" color={a.status === 'ready' ? 'green' : 'orange'}>{a.status}</Badge></Table.Td>
              <Table.Td><When at={a.computedAt} /></Table.Td>
            </Table.Tr>
          ))}
          {audiences.data?.length === 0 && <Table.Tr><Table.Td colSpan={6}>No audiences yet.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
    </>
  );
}
