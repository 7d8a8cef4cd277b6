import { Anchor, Badge, Button, Group, Modal, Select, Stack, Table, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, messageOf } from '../api';
import { useSession } from '../session';
import { ErrorPanel, PageHeader, When } from '../ui';

export interface Source {
  id: string;
  name: string;
  type: string;
  writeKey: string;
  enabled: boolean;
  rateLimit: number | null;
  createdAt: string;
  updatedAt: string;
}

export const SOURCE_TYPES = ['website', 'server', 'mobile', 'http', 'cloud', 'offline'];

export function useSources() {
  return useQuery({ queryKey: ['sources'], queryFn: () => api.get<{ data: Source[] }>('/sources').then((r) => r.data) });
}

export default function Sources() {
  const sources = useSources();
  const { can } = useSession();
  const [opened, { open, close }] = useDisclosure(false);
  return (
    <>
      <PageHeader
        title="Sources"
        description="Where events come from: each source has a write key that can only send events."
        actions={can('sources:write') && <Button onClick={open}>New source</Button>}
      />
      {sources.isError && <ErrorPanel error={sources.error} />}
      <Table striped highlightOnHover aria-label="Sources">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Created</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {sources.data?.map((source) => (
            <Table.Tr key={source.id}>
              <Table.Td><Anchor component={Link} to={`/sources/${source.id}`}>{source.name}</Anchor></Table.Td>
              <Table.Td>{source.type}</Table.Td>
              <Table.Td><Badge variant="light" color={source.enabled ? 'green' : 'gray'}>{source.enabled ? 'enabled' : 'disabled'}</Badge></Table.Td>
              <Table.Td><When at={source.createdAt} /></Table.Td>
            </Table.Tr>
          ))}
          {sources.data?.length === 0 && (
            <Table.Tr><Table.Td colSpan={4}>No sources yet: create one to get a write key.</Table.Td></Table.Tr>
          )}
        </Table.Tbody>
      </Table>
      <Modal opened={opened} onClose={close} title="New source">
        <NewSourceForm onDone={close} />
      </Modal>
    </>
  );
}

function NewSourceForm({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [type, setType] = useState<string | null>('website');
  const create = useMutation({
    mutationFn: (body: { name: string; type: string }) => api.post<Source>('/sources', body),
    onSuccess: (source) => {
      void client.invalidateQueries({ queryKey: ['sources'] });
      onDone();
      navigate(`/sources/${source.id}`);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get('name') ?? '');
    create.mutate({ name, type: type ?? 'website' });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput label="Name" name="name" required data-autofocus placeholder="Marketing site" error={create.isError ? messageOf(create.error) : undefined} />
        <Select label="Type" data={SOURCE_TYPES} value={type} onChange={setType} allowDeselect={false} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>Cancel</Button>
          <Button type="submit" loading={create.isPending}>Create source</Button>
        </Group>
      </Stack>
    </form>
  );
}
