import { Button, Card, Code, CopyButton, Grid, Group, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api, messageOf } from '../api';
import { useSession } from '../session';
import { Teams } from '../teams';
import { Confirm, ErrorPanel, PageHeader, When } from '../ui';
import { roleValue, useRoles } from './roles';

interface Member {
  id: string;
  email: string;
  name: string | null;
  role: string;
  roleName?: string;
  joinedAt: string;
}

interface Invitation {
  id: string;
  email: string;
  role: string;
  createdAt: string;
  expiresAt: string;
}

export default function Members() {
  const { session, can } = useSession();
  const client = useQueryClient();
  const canWrite = can('users:write');
  const members = useQuery({ queryKey: ['users'], queryFn: () => api.get<{ data: Member[] }>('/users').then((r) => r.data) });
  const invitations = useQuery({ queryKey: ['invitations'], queryFn: () => api.get<{ data: Invitation[] }>('/invitations').then((r) => r.data) });
  const roles = useRoles(can('roles:read'));
  const roleOptions = (roles.data ?? [{ id: 'owner', name: 'owner', builtIn: true }, { id: 'admin', name: 'admin', builtIn: true }]).map((r) => ({ value: roleValue(r), label: r.name }));
  const [removing, setRemoving] = useState<Member | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const [inviteRole, setInviteRole] = useState<string | null>('admin');

  const failed = (title: string) => (error: unknown) => notifications.show({ color: 'red', title, message: messageOf(error) });
  const setRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: string }) => api.patch(`/users/${id}`, { role }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['users'] }),
    onError: failed('Role not changed'),
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/users/${id}`),
    onSuccess: () => {
      setRemoving(null);
      void client.invalidateQueries({ queryKey: ['users'] });
    },
  });
  const invite = useMutation({
    mutationFn: (body: { email: string; role: string }) => api.post<{ token: string; invitation: Invitation }>('/invitations', body),
    onSuccess: (answer) => {
      // The token is in this answer only; the link carries it in the fragment, which never reaches a server log.
      setLink(`${window.location.origin}/accept-invitation#${answer.token}`);
      void client.invalidateQueries({ queryKey: ['invitations'] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api.delete(`/invitations/${id}`),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['invitations'] }),
    onError: failed('Not revoked'),
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    invite.mutate({ email: String(new FormData(form).get('email')), role: inviteRole ?? 'admin' }, { onSuccess: () => form.reset() });
  };

  return (
    <>
      <PageHeader
        title="Members"
        description={`Who works in ${session.workspace.name}, with which role.`}
        actions={can('roles:read') && <Button component={Link} to="/settings/roles" variant="default">Roles and permissions</Button>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Stack gap="lg">
            <Card withBorder>
              {members.isError && <ErrorPanel error={members.error} />}
              <Table aria-label="Members" verticalSpacing={6}>
                <Table.Thead>
                  <Table.Tr><Table.Th>Member</Table.Th><Table.Th>Role</Table.Th><Table.Th>Joined</Table.Th><Table.Th /></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {members.data?.map((m) => (
                    <Table.Tr key={m.id}>
                      <Table.Td>
                        <Text size="sm" fw={600}>{m.name ?? m.email}</Text>
                        {m.name && <Text size="xs" c="dimmed">{m.email}</Text>}
                      </Table.Td>
                      <Table.Td w={180}>
                        {canWrite && m.id !== session.user?.id
                          ? <Select aria-label={`Role of ${m.email}`} size="xs" allowDeselect={false} value={m.role} data={roleOptions.some((o) => o.value === m.role) ? roleOptions : [...roleOptions, { value: m.role, label: m.roleName ?? m.role }]} onChange={(role) => role && setRole.mutate({ id: m.id, role })} />
                          : <Text size="sm">{m.roleName ?? m.role}</Text>}
                      </Table.Td>
                      <Table.Td><When at={m.joinedAt} /></Table.Td>
                      <Table.Td>{canWrite && m.id !== session.user?.id && <Button size="compact-xs" variant="subtle" color="red" onClick={() => setRemoving(m)}>Remove</Button>}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Card>
            {members.data && <Teams members={members.data} />}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Stack gap="lg">
            {canWrite && (
              <Card withBorder>
                <Title order={2} size="h4" mb="sm">Invite someone</Title>
                <form onSubmit={submit}>
                  <Stack gap="xs">
                    <TextInput label="Email" name="email" type="email" required />
                    <Select label="Role" allowDeselect={false} value={inviteRole} onChange={setInviteRole} data={roleOptions} />
                    {invite.isError && <ErrorPanel error={invite.error} />}
                    <Button type="submit" loading={invite.isPending} w="fit-content">Create invitation</Button>
                  </Stack>
                </form>
                {link && (
                  <Stack gap={4} mt="md">
                    <Text size="sm">Send this link to them (valid 7 days, once). It is shown only now.</Text>
                    <Code block aria-label="Invitation link" style={{ wordBreak: 'break-all', whiteSpace: 'pre-wrap' }}>{link}</Code>
                    <CopyButton value={link}>{({ copied, copy }) => <Button size="xs" variant="default" w="fit-content" onClick={copy}>{copied ? 'Copied' : 'Copy link'}</Button>}</CopyButton>
                  </Stack>
                )}
              </Card>
            )}
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Pending invitations</Title>
              {invitations.data?.length === 0 && <Text size="sm" c="dimmed">None.</Text>}
              <Stack gap="xs" role="group" aria-label="Pending invitations">
                {invitations.data?.map((i) => (
                  <Group key={i.id} justify="space-between" wrap="nowrap">
                    <Stack gap={0}>
                      <Text size="sm">{i.email}</Text>
                      <Text size="xs" c="dimmed">{i.role} · expires <When at={i.expiresAt} /></Text>
                    </Stack>
                    {canWrite && <Button size="compact-xs" variant="subtle" color="red" onClick={() => revoke.mutate(i.id)} aria-label={`Revoke invitation of ${i.email}`}>Revoke</Button>}
                  </Group>
                ))}
              </Stack>
            </Card>
          </Stack>
        </Grid.Col>
      </Grid>
      <Confirm opened={removing !== null} onClose={() => setRemoving(null)} title="Remove this member?" action="Remove" pending={remove.isPending} error={remove.error} onConfirm={() => removing && remove.mutate(removing.id)}>
        {removing?.email} loses access to {session.workspace.name} at once; their sessions here end. Their records stay.
      </Confirm>
    </>
  );
}
