import { Button, Card, Group, MultiSelect, SegmentedControl, Stack, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, messageOf } from './api';
import { useSession } from './session';
import { ErrorPanel } from './ui';

interface Team {
  id: string;
  name: string;
  memberIds: string[];
}

type Visibility = 'all' | 'team';

/** Teams of members, and whether contacts and deals are visible to all or to their owner's teams. */
export function Teams({ members }: { members: { id: string; email: string; name: string | null }[] }) {
  const { can } = useSession();
  const client = useQueryClient();
  const canWrite = can('users:write');
  const teams = useQuery({ queryKey: ['teams'], queryFn: () => api.get<{ data: Team[] }>('/teams').then((r) => r.data) });
  const options = members.map((m) => ({ value: m.id, label: m.name ?? m.email }));
  const done = () => void client.invalidateQueries({ queryKey: ['teams'] });
  const failed = (title: string) => (error: unknown) => notifications.show({ color: 'red', title, message: messageOf(error) });
  const create = useMutation({ mutationFn: (body: { name: string; memberIds: string[] }) => api.post('/teams', body), onSuccess: done });
  const update = useMutation({ mutationFn: ({ id, memberIds }: { id: string; memberIds: string[] }) => api.patch(`/teams/${id}`, { memberIds }), onSuccess: done, onError: failed('Team not saved') });
  const remove = useMutation({ mutationFn: (id: string) => api.delete(`/teams/${id}`), onSuccess: done, onError: failed('Team not deleted') });
  const [newMembers, setNewMembers] = useState<string[]>([]);
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    create.mutate({ name: String(new FormData(form).get('team')).trim(), memberIds: newMembers }, {
      onSuccess: () => {
        form.reset();
        setNewMembers([]);
      },
    });
  };

  return (
    <Card withBorder>
      <Title order={2} size="h4" mb={4}>Teams</Title>
      <Text size="xs" c="dimmed" mb="sm">With team visibility, members see the contacts and deals they or their teammates own.</Text>
      {can('workspace:read') && <RecordVisibility />}
      {teams.isError && <ErrorPanel error={teams.error} />}
      <Stack gap="sm" mt="sm">
        {teams.data?.map((t) => (
          <Group key={t.id} align="flex-end" gap="xs" wrap="nowrap">
            <MultiSelect
              style={{ flex: 1 }}
              label={t.name}
              aria-label={`Members of ${t.name}`}
              data={options}
              value={t.memberIds}
              readOnly={!canWrite}
              searchable
              onChange={(memberIds) => update.mutate({ id: t.id, memberIds })}
            />
            {canWrite && <Button size="xs" variant="subtle" color="red" aria-label={`Delete team ${t.name}`} onClick={() => remove.mutate(t.id)}>Delete</Button>}
          </Group>
        ))}
        {teams.data?.length === 0 && <Text size="sm" c="dimmed">No teams yet.</Text>}
      </Stack>
      {canWrite && (
        <form onSubmit={submit}>
          <Stack gap="xs" mt="md">
            <TextInput label="Team name" name="team" required placeholder="EMEA sales" />
            <MultiSelect label="Team members" data={options} value={newMembers} onChange={setNewMembers} searchable />
            {create.isError && <ErrorPanel error={create.error} title="Team not created" />}
            <Button type="submit" size="xs" variant="default" loading={create.isPending} w="fit-content">Create team</Button>
          </Stack>
        </form>
      )}
    </Card>
  );
}

function RecordVisibility() {
  const { can } = useSession();
  const client = useQueryClient();
  const visibility = useQuery({ queryKey: ['record-visibility'], queryFn: () => api.get<{ recordVisibility: Visibility }>('/workspace/record-visibility') });
  const save = useMutation({
    mutationFn: (recordVisibility: Visibility) => api.put<{ recordVisibility: Visibility }>('/workspace/record-visibility', { recordVisibility }),
    onSuccess: (next) => client.setQueryData(['record-visibility'], next),
    onError: (error) => notifications.show({ color: 'red', title: 'Not saved', message: messageOf(error) }),
  });
  if (!visibility.data) return null;
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500} id="record-visibility-label">Contacts and deals are visible to</Text>
      <SegmentedControl
        aria-labelledby="record-visibility-label"
        size="xs"
        w="fit-content"
        disabled={!can('workspace:write') || save.isPending}
        value={visibility.data.recordVisibility}
        onChange={(v) => save.mutate(v as Visibility)}
        data={[{ value: 'all', label: 'Everyone' }, { value: 'team', label: 'Owner and their teams' }]}
      />
    </Stack>
  );
}
