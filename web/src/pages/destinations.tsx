import { Anchor, Badge, Button, Modal, Table, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { api } from '../api';
import { DestinationForm, targetOf, type Destination } from '../destination-form';
import { useSession } from '../session';
import { ErrorPanel, PageHeader, When } from '../ui';

export function DestinationStatus({ destination }: { destination: Destination }) {
  if (!destination.enabled) return <Badge variant="light" color="gray">disabled</Badge>;
  if (destination.failingSince) return <Badge variant="light" color="red">failing</Badge>;
  return <Badge variant="light" color="green">enabled</Badge>;
}

export default function Destinations() {
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [opened, { open, close }] = useDisclosure(false);
  const destinations = useQuery({ queryKey: ['destinations'], queryFn: () => api.get<{ data: Destination[] }>('/destinations').then((r) => r.data) });
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Destination>('/destinations', body),
    onSuccess: (d) => {
      void client.invalidateQueries({ queryKey: ['destinations'] });
      close();
      navigate(`/destinations/${d.id}`);
    },
  });
  return (
    <>
      <PageHeader
        title="Destinations"
        description="Where events go once processed: webhooks and Segment-compatible APIs, retried until they answer."
        actions={can('destinations:write') && <Button onClick={() => { create.reset(); open(); }}>New destination</Button>}
      />
      {destinations.isError && <ErrorPanel error={destinations.error} />}
      <Table striped highlightOnHover aria-label="Destinations">
        <Table.Thead>
          <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Type</Table.Th><Table.Th>Sends to</Table.Th><Table.Th>Status</Table.Th><Table.Th>Created</Table.Th></Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {destinations.data?.map((d) => (
            <Table.Tr key={d.id}>
              <Table.Td><Anchor component={Link} to={`/destinations/${d.id}`}>{d.name}</Anchor></Table.Td>
              <Table.Td>{d.type.replace('_', ' ')}</Table.Td>
              <Table.Td><Text size="sm" ff="monospace" truncate maw={360}>{targetOf(d)}</Text></Table.Td>
              <Table.Td><DestinationStatus destination={d} /></Table.Td>
              <Table.Td><When at={d.createdAt} /></Table.Td>
            </Table.Tr>
          ))}
          {destinations.data?.length === 0 && <Table.Tr><Table.Td colSpan={5}>No destinations yet: events are collected and kept, and sent nowhere.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      <Modal opened={opened} onClose={close} title="New destination" size="lg">
        <DestinationForm pending={create.isPending} error={create.error} onSubmit={(body) => create.mutate(body)} onCancel={close} />
      </Modal>
    </>
  );
}
