import { Anchor, Button, Card, Checkbox, Fieldset, Grid, Group, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { api } from '../api';
import { useSession } from '../session';
import { ErrorPanel, PageHeader } from '../ui';

export interface Role {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  permissions: string[];
}

/** Members, invitations and API keys name a built-in role by its name, a custom one by its id. */
export const roleValue = (r: Pick<Role, 'id' | 'name' | 'builtIn'>) => (r.builtIn ? r.name : r.id);

export function useRoles(enabled = true) {
  return useQuery({ queryKey: ['roles'], enabled, queryFn: () => api.get<{ data: Role[] }>('/roles').then((r) => r.data) });
}

/** Permissions by the object they are about: `contacts` → read, write, export. */
function byObject(permissions: string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const p of permissions) {
    const [object] = p.split(':');
    groups.set(object, [...(groups.get(object) ?? []), p]);
  }
  return [...groups];
}

const objectLabel = (object: string) => object.replace(/_/g, ' ');

export default function Roles() {
  const { can } = useSession();
  const roles = useRoles();
  const all = useQuery({ queryKey: ['roles', 'permissions'], queryFn: () => api.get<{ data: string[] }>('/roles/permissions').then((r) => r.data) });
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  const canWrite = can('roles:write');

  return (
    <>
      <PageHeader
        title="Roles"
        description={<>What each role may do. Give roles to people on <Anchor component={Link} to="/settings/members" size="sm">Members</Anchor>, and to API keys on <Anchor component={Link} to="/settings/api-keys" size="sm">API keys</Anchor>.</>}
        actions={canWrite && <Button onClick={() => setEditing('new')}>New role</Button>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Card withBorder>
            {roles.isError && <ErrorPanel error={roles.error} />}
            <Table aria-label="Roles" verticalSpacing={6} highlightOnHover>
              <Table.Thead>
                <Table.Tr><Table.Th>Role</Table.Th><Table.Th>Kind</Table.Th><Table.Th>Permissions</Table.Th><Table.Th /></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {roles.data?.map((r) => (
                  <Table.Tr key={r.id}>
                    <Table.Td>
                      <Text size="sm" fw={600}>{r.name}</Text>
                      {r.description && <Text size="xs" c="dimmed" lineClamp={2}>{r.description}</Text>}
                    </Table.Td>
                    <Table.Td><Text size="sm" c={r.builtIn ? 'dimmed' : 'blue.8'}>{r.builtIn ? 'built-in' : 'custom'}</Text></Table.Td>
                    <Table.Td>{r.permissions.length}</Table.Td>
                    <Table.Td>
                      <Button size="compact-xs" variant="subtle" onClick={() => setEditing(r)} aria-label={`${r.builtIn || !canWrite ? 'View' : 'Edit'} role ${r.name}`}>
                        {r.builtIn || !canWrite ? 'View' : 'Edit'}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          {editing && all.data && (
            <RoleEditor key={editing === 'new' ? 'new' : editing.id} role={editing === 'new' ? null : editing} permissions={all.data} readOnly={!canWrite || (editing !== 'new' && editing.builtIn)} onDone={setEditing} />
          )}
          {!editing && <Text c="dimmed" size="sm">Choose a role to see its permissions{canWrite ? ', or create one' : ''}.</Text>}
        </Grid.Col>
      </Grid>
    </>
  );
}

function RoleEditor({ role, permissions, readOnly, onDone }: { role: Role | null; permissions: string[]; readOnly: boolean; onDone: (next: Role | null) => void }) {
  const { can } = useSession();
  const client = useQueryClient();
  const [granted, setGranted] = useState<Set<string>>(new Set(role?.permissions ?? []));
  const save = useMutation({
    mutationFn: (body: { name: string; description: string; permissions: string[] }) =>
      role ? api.patch<Role>(`/roles/${role.id}`, body) : api.post<Role>('/roles', body),
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: ['roles'] });
      notifications.show({ color: 'green', title: 'Role saved', message: `${saved.name}: ${saved.permissions.length} permissions.` });
      onDone(saved);
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/roles/${id}`),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['roles'] });
      onDone(null);
    },
  });
  const toggle = (permission: string, on: boolean) => setGranted((current) => {
    const next = new Set(current);
    if (on) next.add(permission);
    else next.delete(permission);
    return next;
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    // In the catalogue's order, so a role reads the same wherever it is shown.
    save.mutate({ name: String(form.get('name')), description: String(form.get('description') ?? ''), permissions: permissions.filter((p) => granted.has(p)) });
  };

  return (
    <Card withBorder component="section" aria-labelledby="role-editor-title">
      <form onSubmit={submit}>
        <Stack gap="sm">
          <Title order={2} size="h4" id="role-editor-title">{role ? (readOnly ? `Role ${role.name}` : `Edit ${role.name}`) : 'New role'}</Title>
          {role?.builtIn && <Text size="sm" c="dimmed">Built-in roles cannot be changed; create a custom role to grant a different set.</Text>}
          <TextInput label="Name" name="name" required defaultValue={role?.name ?? ''} readOnly={readOnly} data-autofocus />
          <Textarea label="Description" name="description" defaultValue={role?.description ?? ''} readOnly={readOnly} autosize minRows={1} />
          <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="xs">
            {byObject(permissions).map(([object, items]) => (
              <Fieldset key={object} legend={objectLabel(object)} variant="filled" p="xs">
                <Stack gap={4}>
                  {items.map((p) => (
                    <Checkbox
                      key={p}
                      size="xs"
                      label={p.split(':')[1]}
                      aria-label={p}
                      checked={granted.has(p)}
                      // Nobody grants what they do not hold themselves; the API would refuse it.
                      disabled={readOnly || (!granted.has(p) && !can(p))}
                      onChange={(e) => toggle(p, e.currentTarget.checked)}
                    />
                  ))}
                </Stack>
              </Fieldset>
            ))}
          </SimpleGrid>
          {save.isError && <ErrorPanel error={save.error} title="Not saved" />}
          {remove.isError && <ErrorPanel error={remove.error} title="Not deleted" />}
          <Group justify="space-between">
            <Group gap="xs">
              {!readOnly && <Button type="submit" loading={save.isPending}>{role ? 'Save role' : 'Create role'}</Button>}
              <Button variant="default" onClick={() => onDone(null)}>Close</Button>
            </Group>
            {role && !readOnly && <Button variant="subtle" color="red" loading={remove.isPending} onClick={() => remove.mutate(role.id)}>Delete role</Button>}
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
