import { Anchor, Badge, Button, Checkbox, Group, Input, Modal, SegmentedControl, Select, Stack, Table, Text, TextInput, Textarea } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, query } from '../api';
import { PRIORITIES, PRIORITY_COLOR, stageLabel, type Priority, type Task } from '../crm';
import { MemberSelect, useMembers } from '../members';
import { useSession } from '../session';
import { useCompleteTask } from '../tasks';
import { ErrorPanel, LoadMore, PageHeader, When } from '../ui';

type Page = { data: Task[]; nextCursor: string | null };

/** Where a task's first related record opens. */
function related(t: Task): { to: string; label: string } | null {
  if (t.dealIds[0]) return { to: `/crm/deals/${t.dealIds[0]}`, label: 'Deal' };
  if (t.ticketIds[0]) return { to: `/crm/tickets/${t.ticketIds[0]}`, label: 'Ticket' };
  if (t.companyIds[0]) return { to: `/crm/companies/${t.companyIds[0]}`, label: 'Company' };
  if (t.contactIds[0]) return { to: `/crm/contacts/${t.contactIds[0]}`, label: 'Contact' };
  return null;
}

export default function Tasks() {
  const { session, can } = useSession();
  const { nameOf } = useMembers();
  const [params, setParams] = useSearchParams();
  const me = session.user?.id ?? session.actor.id;
  const who = params.get('who') === 'all' ? 'all' : 'mine';
  const status = params.get('status') ?? 'active';
  const set = (key: string, value: string | null) => setParams((p) => {
    if (value) p.set(key, value);
    else p.delete(key);
    return p;
  }, { replace: true });
  const listQuery = { assigneeId: who === 'mine' ? me : undefined, status: status === 'any' ? undefined : status };
  const tasks = useInfiniteQuery({
    queryKey: ['tasks', listQuery],
    queryFn: ({ pageParam }) => api.get<Page>(`/crm/tasks${query({ ...listQuery, limit: 100, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const [creating, createModal] = useDisclosure(false);
  const canWrite = can('tasks:write');
  const rows = tasks.data?.pages.flatMap((p) => p.data) ?? [];
  const overdue = rows.filter((t) => t.overdue).length;

  const complete = useCompleteTask();

  return (
    <>
      <PageHeader
        title="My tasks"
        description={`Open tasks, soonest due first${overdue ? ` · ${overdue} overdue` : ''}.`}
        actions={canWrite && <Button onClick={createModal.open}>New task</Button>}
      />
      <Group gap="sm" mb="sm" align="flex-end">
        <Stack gap={0}>
          <Input.Label id="task-who">Assigned to</Input.Label>
          <SegmentedControl aria-labelledby="task-who" value={who} onChange={(v) => set('who', v === 'all' ? 'all' : null)} data={[{ value: 'mine', label: 'Me' }, { value: 'all', label: 'Everyone' }]} />
        </Stack>
        <Select
          label="Status"
          allowDeselect={false}
          value={status}
          onChange={(v) => set('status', v === 'active' ? null : v)}
          data={[{ value: 'active', label: 'Open and in progress' }, { value: 'done', label: 'Done' }, { value: 'cancelled', label: 'Cancelled' }, { value: 'any', label: 'Any' }]}
          w={220}
        />
      </Group>
      {tasks.isError && <ErrorPanel error={tasks.error} />}
      <Table striped highlightOnHover aria-label="Tasks">
        <Table.Thead>
          <Table.Tr>
            <Table.Th w={60}>Done</Table.Th>
            <Table.Th>Task</Table.Th>
            <Table.Th>Due</Table.Th>
            <Table.Th>Priority</Table.Th>
            <Table.Th>Assignee</Table.Th>
            <Table.Th>About</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((t) => {
            const about = related(t);
            return (
              <Table.Tr key={t.id} data-overdue={t.overdue || undefined}>
                <Table.Td>
                  <Checkbox aria-label={`Complete ${t.title}`} checked={t.status === 'done'} disabled={!canWrite || t.status === 'cancelled'}
                    onChange={(e) => complete.mutate({ task: t, done: e.currentTarget.checked })} />
                </Table.Td>
                <Table.Td>
                  <Text size="sm" fw={600} td={t.status === 'done' ? 'line-through' : undefined}>{t.title}</Text>
                  {t.body && <Text size="xs" c="dimmed" lineClamp={1}>{t.body}</Text>}
                </Table.Td>
                <Table.Td>
                  <Group gap={6} wrap="nowrap">
                    {t.dueAt ? <Text size="sm" c={t.overdue ? 'red.9' : undefined}><When at={t.dueAt} /></Text> : <Text size="sm" c="dimmed">no date</Text>}
                    {t.overdue && <Badge color="red" variant="filled" size="sm">Overdue</Badge>}
                  </Group>
                </Table.Td>
                <Table.Td><Badge variant="light" color={PRIORITY_COLOR[t.priority]}>{t.priority}</Badge></Table.Td>
                <Table.Td>{nameOf(t.assigneeId)}</Table.Td>
                <Table.Td>{about ? <Anchor component={Link} to={about.to} size="sm">{about.label}</Anchor> : '—'}</Table.Td>
              </Table.Tr>
            );
          })}
          {tasks.isSuccess && rows.length === 0 && <Table.Tr><Table.Td colSpan={6}>No tasks here. {who === 'mine' ? 'Nothing is assigned to you.' : ''}</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      <LoadMore list={tasks} />
      <Modal opened={creating} onClose={createModal.close} title="New task">
        <NewTaskForm me={me} onDone={createModal.close} />
      </Modal>
    </>
  );
}

function NewTaskForm({ me, onDone }: { me: string; onDone: () => void }) {
  const client = useQueryClient();
  const [assigneeId, setAssigneeId] = useState<string | null>(me);
  const [priority, setPriority] = useState<Priority>('normal');
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Task>('/crm/tasks', body),
    onSuccess: (task) => {
      void client.invalidateQueries({ queryKey: ['tasks'] });
      notifications.show({ color: 'green', message: `Task "${task.title}" created.` });
      onDone();
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const due = String(form.get('dueAt') ?? '');
    create.mutate({
      title: form.get('title'),
      ...(form.get('body') ? { body: form.get('body') } : {}),
      // The picker gives local time; the API takes an instant.
      ...(due ? { dueAt: new Date(due).toISOString() } : {}),
      assigneeId,
      priority,
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        {create.isError && <ErrorPanel error={create.error} />}
        <TextInput label="Title" name="title" required data-autofocus />
        <Textarea label="Details" name="body" autosize minRows={2} />
        <TextInput label="Due" name="dueAt" type="datetime-local" />
        <Select label="Priority" allowDeselect={false} value={priority} onChange={(v) => setPriority((v ?? 'normal') as Priority)} data={PRIORITIES.map((p) => ({ value: p, label: stageLabel(p) }))} />
        <MemberSelect label="Assignee" value={assigneeId} onChange={setAssigneeId} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>Cancel</Button>
          <Button type="submit" loading={create.isPending}>Create task</Button>
        </Group>
      </Stack>
    </form>
  );
}
