import { Alert, Button, Card, Code, CopyButton, Grid, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { useSession } from '../session';
import { Confirm, ErrorPanel, PageHeader, When } from '../ui';
import { roleValue, useRoles } from './roles';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: string;
  roleName: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

function status(key: ApiKey): { label: string; color: string } {
  if (key.revokedAt) return { label: 'revoked', color: 'dimmed' };
  if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return { label: 'expired', color: 'dimmed' };
  return { label: 'active', color: 'var(--mantine-color-green-light-color)' };
}

export default function ApiKeys() {
  const { can } = useSession();
  const client = useQueryClient();
  const canWrite = can('api_keys:write');
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => api.get<{ data: ApiKey[] }>('/api-keys').then((r) => r.data) });
  const roles = useRoles(can('roles:read'));
  const roleOptions = (roles.data ?? [{ id: 'admin', name: 'admin', builtIn: true }]).map((r) => ({ value: roleValue(r), label: r.name }));
  const [role, setRole] = useState<string | null>('admin');
  const [secret, setSecret] = useState<{ name: string; key: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  const create = useMutation({
    mutationFn: (body: { name: string; role: string; expiresAt?: string }) => api.post<{ key: string; apiKey: ApiKey }>('/api-keys', body),
    onSuccess: (answer) => {
      // The secret is in this answer only: it is held in this screen's state until it is dismissed.
      setSecret({ name: answer.apiKey.name, key: answer.key });
      void client.invalidateQueries({ queryKey: ['api-keys'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.delete(`/api-keys/${id}`),
    onSuccess: () => {
      setRevoking(null);
      void client.invalidateQueries({ queryKey: ['api-keys'] });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const expires = String(data.get('expiresAt') ?? '');
    create.mutate(
      { name: String(data.get('name')), role: role ?? 'admin', ...(expires ? { expiresAt: new Date(`${expires}T23:59:59`).toISOString() } : {}) },
      { onSuccess: () => form.reset() },
    );
  };

  return (
    <>
      <PageHeader title="API keys" description="Keys for servers and scripts calling the management API. Each acts with its role's permissions." />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Card withBorder>
            {keys.isError && <ErrorPanel error={keys.error} />}
            <Table aria-label="API keys" verticalSpacing={6}>
              <Table.Thead>
                <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Role</Table.Th><Table.Th>Status</Table.Th><Table.Th>Created</Table.Th><Table.Th>Last used</Table.Th><Table.Th /></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {keys.data?.map((k) => {
                  const s = status(k);
                  return (
                    <Table.Tr key={k.id}>
                      <Table.Td>
                        <Text size="sm" fw={600}>{k.name}</Text>
                        <Text size="xs" c="dimmed" ff="monospace">{k.prefix}…</Text>
                      </Table.Td>
                      <Table.Td>{k.roleName ?? k.role}</Table.Td>
                      <Table.Td><Text size="sm" c={s.color}>{s.label}</Text></Table.Td>
                      <Table.Td><When at={k.createdAt} /></Table.Td>
                      <Table.Td><When at={k.lastUsedAt} /></Table.Td>
                      <Table.Td>
                        {canWrite && !k.revokedAt && (
                          <Button size="compact-xs" variant="subtle" color="red" onClick={() => setRevoking(k)} aria-label={`Revoke API key ${k.name}`}>Revoke</Button>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
                {keys.data?.length === 0 && <Table.Tr><Table.Td colSpan={6}>No API keys yet.</Table.Td></Table.Tr>}
              </Table.Tbody>
            </Table>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          {canWrite && (
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">New API key</Title>
              <form onSubmit={submit}>
                <Stack gap="xs">
                  <TextInput label="Name" name="name" required placeholder="Nightly export" />
                  <Select label="Role" allowDeselect={false} value={role} onChange={setRole} data={roleOptions} />
                  <TextInput label="Expires on (optional)" name="expiresAt" type="date" />
                  {create.isError && <ErrorPanel error={create.error} title="Not created" />}
                  <Button type="submit" loading={create.isPending} w="fit-content">Create API key</Button>
                </Stack>
              </form>
              {secret && (
                <Alert mt="md" color="yellow" title={`Secret of ${secret.name}`} withCloseButton closeButtonLabel="Dismiss the secret" onClose={() => setSecret(null)}>
                  <Stack gap={6}>
                    <Text size="sm">Copy it now: it is shown only this once and cannot be read again.</Text>
                    <Code block aria-label="API key secret" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{secret.key}</Code>
                    <CopyButton value={secret.key}>{({ copied, copy }) => <Button size="xs" variant="default" w="fit-content" onClick={copy}>{copied ? 'Copied' : 'Copy secret'}</Button>}</CopyButton>
                  </Stack>
                </Alert>
              )}
            </Card>
          )}
        </Grid.Col>
      </Grid>
      <Confirm opened={revoking !== null} onClose={() => setRevoking(null)} title="Revoke this API key?" action="Revoke" pending={revoke.isPending} error={revoke.error} onConfirm={() => revoking && revoke.mutate(revoking.id)}>
        Calls with {revoking?.name} are refused from now on. This cannot be undone.
      </Confirm>
    </>
  );
}
