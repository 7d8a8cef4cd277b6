import { Anchor, Button, Card, Grid, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, messageOf, query } from '../api';
import { useSession } from '../session';
import { Confirm, ErrorPanel, PageHeader, When } from '../ui';

interface ConsentCategory {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}

type RequestType = 'suppress' | 'unsuppress' | 'delete' | 'export';
type RequestStatus = 'pending' | 'running' | 'completed' | 'failed';

interface PrivacyRequest {
  id: string;
  type: RequestType;
  status: RequestStatus;
  identifier: { type: string; value: string | null };
  profileId: string | null;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  download: string | null;
}

const REQUEST_TYPES: { value: RequestType; label: string }[] = [
  { value: 'suppress', label: 'Suppress: drop their events from now on' },
  { value: 'unsuppress', label: 'Unsuppress: accept their events again' },
  { value: 'delete', label: 'Delete: erase the person everywhere' },
  { value: 'export', label: 'Export: everything about them as JSON' },
];
const IDENTIFIER_TYPES = ['email', 'user_id', 'anonymous_id', 'phone', 'device_id', 'advertising_id'];
const STATUS_COLOR: Record<RequestStatus, string> = { pending: 'dimmed', running: 'blue.8', completed: 'green.9', failed: 'red.9' };

export default function Privacy() {
  return (
    <>
      <PageHeader title="Privacy" description="Consent categories events are checked against, requests to suppress, delete or export a person, and how long raw events are kept." />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 8 }}><Requests /></Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Stack gap="lg">
            <ConsentCategories />
            <Retention />
          </Stack>
        </Grid.Col>
      </Grid>
    </>
  );
}

function Requests() {
  const { can } = useSession();
  const client = useQueryClient();
  const [status, setStatus] = useState<string | null>(null);
  const [type, setType] = useState<string | null>(null);
  const requests = useQuery({
    queryKey: ['privacy', 'requests', status, type],
    queryFn: () => api.get<{ data: PrivacyRequest[] }>(`/privacy/requests${query({ status, type, limit: 100 })}`).then((r) => r.data),
    // Requests run in the background: follow them while any is unfinished.
    refetchInterval: (q) => (q.state.data?.some((r) => r.status === 'pending' || r.status === 'running') ? 1500 : false),
  });
  const retry = useMutation({
    mutationFn: (id: string) => api.post(`/privacy/requests/${id}/retry`),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['privacy', 'requests'] }),
    onError: (error) => notifications.show({ color: 'red', title: 'Not retried', message: messageOf(error) }),
  });
  return (
    <Stack gap="lg">
      {can('privacy:write') && <NewRequestForm />}
      <Card withBorder>
        <Group justify="space-between" mb="sm">
          <Title order={2} size="h4">Privacy requests</Title>
          <Group gap="xs">
            <Select size="xs" w={150} aria-label="Filter by type" placeholder="Any type" clearable value={type} onChange={setType} data={REQUEST_TYPES.map((t) => t.value)} />
            <Select size="xs" w={150} aria-label="Filter by status" placeholder="Any status" clearable value={status} onChange={setStatus} data={Object.keys(STATUS_COLOR)} />
          </Group>
        </Group>
        {requests.isError && <ErrorPanel error={requests.error} />}
        <Table aria-label="Privacy requests" verticalSpacing={6}>
          <Table.Thead>
            <Table.Tr><Table.Th>Request</Table.Th><Table.Th>Identifier</Table.Th><Table.Th>Status</Table.Th><Table.Th>Filed</Table.Th><Table.Th>Finished</Table.Th><Table.Th /></Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {requests.data?.map((r) => (
              <Table.Tr key={r.id}>
                <Table.Td>{r.type}</Table.Td>
                <Table.Td>
                  <Text size="sm">{r.identifier.type}</Text>
                  {/* The value is forgotten once the request is done. */}
                  <Text size="xs" c="dimmed">{r.identifier.value ?? '(forgotten)'}</Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" fw={600} c={STATUS_COLOR[r.status]}>{r.status}</Text>
                  {r.error && <Text size="xs" c="red">{r.error}</Text>}
                </Table.Td>
                <Table.Td><When at={r.createdAt} /></Table.Td>
                <Table.Td>{r.finishedAt ? <When at={r.finishedAt} /> : '—'}</Table.Td>
                <Table.Td>
                  {r.download && <Anchor href={r.download} size="sm" download>Download</Anchor>}
                  {r.status === 'failed' && can('privacy:write') && <Button size="compact-xs" variant="subtle" onClick={() => retry.mutate(r.id)}>Retry</Button>}
                </Table.Td>
              </Table.Tr>
            ))}
            {requests.data?.length === 0 && <Table.Tr><Table.Td colSpan={6}>No requests{status || type ? ' match these filters' : ' yet'}.</Table.Td></Table.Tr>}
          </Table.Tbody>
        </Table>
      </Card>
    </Stack>
  );
}

function NewRequestForm() {
  const client = useQueryClient();
  const [type, setType] = useState<string | null>('suppress');
  const [identifierType, setIdentifierType] = useState<string | null>('email');
  const [confirming, setConfirming] = useState<{ type: string; identifier: { type: string; value: string } } | null>(null);
  const file = useMutation({
    mutationFn: (body: { type: string; identifier: { type: string; value: string } }) => api.post<PrivacyRequest>('/privacy/requests', body),
    onSuccess: (r) => {
      setConfirming(null);
      void client.invalidateQueries({ queryKey: ['privacy', 'requests'] });
      notifications.show({ color: 'green', title: 'Request filed', message: `${r.type} of ${r.identifier.type}: ${r.status}.` });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const body = { type: type ?? 'suppress', identifier: { type: identifierType ?? 'email', value: String(new FormData(form).get('value')).trim() } };
    // An erasure cannot be undone: it is confirmed first.
    if (body.type === 'delete') setConfirming(body);
    else file.mutate(body, { onSuccess: () => form.reset() });
  };
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="sm">File a request</Title>
      <form onSubmit={submit}>
        <Group align="flex-end" gap="xs">
          <Select label="Request" w={270} allowDeselect={false} value={type} onChange={setType} data={REQUEST_TYPES} />
          <Select label="Identifier type" w={150} allowDeselect={false} value={identifierType} onChange={setIdentifierType} data={IDENTIFIER_TYPES} />
          <TextInput label="Identifier value" name="value" required style={{ flex: 1 }} placeholder="ada@example.com" />
          <Button type="submit" loading={file.isPending && !confirming}>File request</Button>
        </Group>
        {file.isError && !confirming && <ErrorPanel error={file.error} title="Not filed" />}
      </form>
      <Confirm opened={confirming !== null} onClose={() => setConfirming(null)} title="Delete this person?" action="Delete the person" pending={file.isPending} error={file.error} onConfirm={() => confirming && file.mutate(confirming)}>
        Everything about the person with {confirming?.identifier.type} {confirming?.identifier.value} is erased: profile, events, traits, consent and CRM personal data. Their identifiers stay suppressed. This cannot be undone.
      </Confirm>
    </Card>
  );
}

function ConsentCategories() {
  const { can } = useSession();
  const client = useQueryClient();
  const canWrite = can('privacy:write');
  const categories = useQuery({ queryKey: ['privacy', 'consent-categories'], queryFn: () => api.get<{ data: ConsentCategory[] }>('/privacy/consent-categories').then((r) => r.data) });
  const done = () => void client.invalidateQueries({ queryKey: ['privacy', 'consent-categories'] });
  const create = useMutation({ mutationFn: (body: { name: string; description?: string }) => api.post('/privacy/consent-categories', body), onSuccess: done });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/privacy/consent-categories/${id}`),
    onSuccess: done,
    onError: (error) => notifications.show({ color: 'red', title: 'Not deleted', message: messageOf(error) }),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const description = String(data.get('description') ?? '').trim();
    create.mutate({ name: String(data.get('name')).trim(), ...(description ? { description } : {}) }, { onSuccess: () => form.reset() });
  };
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb={4}>Consent categories</Title>
      <Text size="xs" c="dimmed" mb="sm">As events name them in context.consent.categoryPreferences; destinations require some of them.</Text>
      {categories.isError && <ErrorPanel error={categories.error} />}
      <Table aria-label="Consent categories" verticalSpacing={4}>
        <Table.Tbody>
          {categories.data?.map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td>
                <Text size="sm" fw={600}>{c.name}</Text>
                {c.description && <Text size="xs" c="dimmed">{c.description}</Text>}
              </Table.Td>
              <Table.Td w={60}>{canWrite && <Button size="compact-xs" variant="subtle" color="red" aria-label={`Delete consent category ${c.name}`} onClick={() => remove.mutate(c.id)}>Delete</Button>}</Table.Td>
            </Table.Tr>
          ))}
          {categories.data?.length === 0 && <Table.Tr><Table.Td>None yet.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      {canWrite && (
        <form onSubmit={submit}>
          <Stack gap="xs" mt="sm">
            <TextInput label="Category name" name="name" required placeholder="Advertising" />
            <TextInput label="Category description" name="description" />
            {create.isError && <ErrorPanel error={create.error} title="Not created" />}
            <Button type="submit" size="xs" loading={create.isPending} w="fit-content">Add category</Button>
          </Stack>
        </form>
      )}
    </Card>
  );
}

function Retention() {
  const { can } = useSession();
  const client = useQueryClient();
  const settings = useQuery({ queryKey: ['privacy', 'settings'], queryFn: () => api.get<{ retentionDays: number | null }>('/privacy/settings') });
  const save = useMutation({
    mutationFn: (retentionDays: number | null) => api.put<{ retentionDays: number | null }>('/privacy/settings', { retentionDays }),
    onSuccess: (next) => client.setQueryData(['privacy', 'settings'], next),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const days = String(new FormData(event.currentTarget).get('retentionDays') ?? '');
    save.mutate(days === '' ? null : Number(days));
  };
  if (!settings.data) return settings.isError ? <ErrorPanel error={settings.error} /> : null;
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb={4}>Raw event retention</Title>
      <Text size="xs" c="dimmed" mb="sm">Raw events older than this are deleted; profiles, traits and CRM records stay. Empty keeps them for ever.</Text>
      <form onSubmit={submit}>
        <Group align="flex-end" gap="xs">
          <NumberInput label="Keep raw events (days)" name="retentionDays" defaultValue={settings.data.retentionDays ?? ''} placeholder="for ever" min={1} allowDecimal={false} readOnly={!can('privacy:write')} w={180} />
          {can('privacy:write') && <Button type="submit" size="sm" variant="default" loading={save.isPending}>Save</Button>}
        </Group>
        {save.isError && <ErrorPanel error={save.error} title="Not saved" />}
      </form>
    </Card>
  );
}
