import { Badge, Button, Checkbox, Group, Stack, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { api, ApiError, messageOf } from './api';
import { etagOf, type Task } from './crm';
import { useSession } from './session';
import { ErrorPanel, When } from './ui';

/** Marks a task done (or open again), with If-Match: a task changed meanwhile is reported, and every task list reloads. */
export function useCompleteTask() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ task, done }: { task: Task; done: boolean }) => api.patch<Task>(`/crm/tasks/${task.id}`, { status: done ? 'done' : 'open' }, { headers: { 'if-match': etagOf(task) } }),
    onSuccess: (saved) => {
      notifications.show({ color: 'green', message: saved.status === 'done' ? `Completed "${saved.title}".` : `Reopened "${saved.title}".` });
      void client.invalidateQueries({ queryKey: ['tasks'] });
    },
    onError: (error) => {
      const stale = error instanceof ApiError && error.status === 412;
      notifications.show({ color: 'red', title: stale ? 'Someone changed this task meanwhile' : 'Not saved', message: stale ? 'The list now shows the latest; try again.' : messageOf(error) });
      void client.invalidateQueries({ queryKey: ['tasks'] });
    },
  });
}

/** A deal's open tasks, each done in one click, and a new one assigned to the signed-in member. */
export function DealTasks({ dealId, contactIds }: { dealId: string; contactIds: string[] }) {
  const { session, can } = useSession();
  const client = useQueryClient();
  const complete = useCompleteTask();
  const tasks = useQuery({
    queryKey: ['tasks', { dealId }],
    queryFn: () => api.get<{ data: Task[] }>(`/crm/tasks?dealId=${encodeURIComponent(dealId)}&status=active&limit=50`).then((r) => r.data),
  });
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Task>('/crm/tasks', body),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['tasks'] }),
  });
  const canWrite = can('tasks:write');
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const due = String(data.get('dueAt') ?? '');
    create.mutate(
      { title: data.get('title'), ...(due ? { dueAt: new Date(due).toISOString() } : {}), assigneeId: session.user?.id ?? null, dealIds: [dealId], ...(contactIds.length ? { contactIds } : {}) },
      { onSuccess: () => form.reset() },
    );
  };
  if (tasks.isError) return <ErrorPanel error={tasks.error} />;
  return (
    <Stack gap="xs">
      {tasks.data?.length === 0 && <Text size="sm" c="dimmed">No open task.</Text>}
      <Stack gap={4} role="group" aria-label="Tasks of the deal">
        {tasks.data?.map((t) => (
          <Group key={t.id} gap="xs" wrap="nowrap">
            <Checkbox aria-label={`Complete ${t.title}`} checked={false} disabled={!canWrite} onChange={() => complete.mutate({ task: t, done: true })} />
            <Text size="sm" fw={600}>{t.title}</Text>
            {t.dueAt && <Text size="xs" c={t.overdue ? 'red.9' : 'dimmed'}><When at={t.dueAt} /></Text>}
            {t.overdue && <Badge color="red" variant="filled" size="xs">Overdue</Badge>}
          </Group>
        ))}
      </Stack>
      {canWrite && (
        <form onSubmit={submit} aria-label="New task for the deal">
          <Group gap="xs" align="flex-end">
            <TextInput label="New task" name="title" required size="xs" />
            <TextInput label="Due" name="dueAt" type="datetime-local" size="xs" />
            <Button type="submit" size="xs" loading={create.isPending}>Add task</Button>
          </Group>
          {create.isError && <ErrorPanel error={create.error} />}
        </form>
      )}
    </Stack>
  );
}
