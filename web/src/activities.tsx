import { Badge, Button, Group, NumberInput, SegmentedControl, Select, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from './api';
import { useSession } from './session';
import type { Activity } from './crm';
import { ErrorPanel, When } from './ui';

type RecordRef = { object: 'contact' | 'company' | 'deal' | 'ticket'; id: string };

const OUTCOMES = [
  { value: 'connected', label: 'Connected' },
  { value: 'no_answer', label: 'No answer' },
  { value: 'left_voicemail', label: 'Left voicemail' },
  { value: 'busy', label: 'Busy' },
  { value: 'wrong_number', label: 'Wrong number' },
];

/** Log a call, note, email or meeting on a record (and on the deal's contacts, when given). */
export function LogActivity({ record, alsoContacts = [] }: { record: RecordRef; alsoContacts?: string[] }) {
  const client = useQueryClient();
  const { session } = useSession();
  const [kind, setKind] = useState<Activity['kind']>('call');
  const [outcome, setOutcome] = useState<string | null>('connected');
  const [minutes, setMinutes] = useState<number | string>('');
  const log = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Activity>('/crm/activities', body),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['activities'] });
      void client.invalidateQueries({ queryKey: ['timeline'] });
      notifications.show({ color: 'green', message: `${kind[0].toUpperCase()}${kind.slice(1)} logged.` });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const key = { contact: 'contactIds', company: 'companyIds', deal: 'dealIds', ticket: 'ticketIds' }[record.object];
    // Logged by the signed-in member: theirs in the activity reports.
    const body: Record<string, unknown> = { kind, subject: data.get('subject') || null, body: data.get('body') || null, [key]: [record.id], ownerId: session.user?.id ?? null };
    if (alsoContacts.length > 0 && record.object !== 'contact') body.contactIds = alsoContacts;
    if (kind === 'call') body.outcome = outcome;
    if ((kind === 'call' || kind === 'meeting') && minutes !== '') body.durationSeconds = Math.round(Number(minutes) * 60);
    log.mutate(body, { onSuccess: () => form.reset() });
  };
  return (
    <form onSubmit={submit} aria-label="Log activity">
      <Stack gap="xs">
        <SegmentedControl
          aria-label="Kind"
          value={kind}
          onChange={(v) => setKind(v as Activity['kind'])}
          data={[{ value: 'call', label: 'Call' }, { value: 'note', label: 'Note' }, { value: 'email', label: 'Email' }, { value: 'meeting', label: 'Meeting' }]}
        />
        <TextInput label="Subject" name="subject" />
        <Textarea label={kind === 'note' ? 'Note' : 'Notes'} name="body" autosize minRows={2} />
        {(kind === 'call' || kind === 'meeting') && (
          <Group grow>
            {kind === 'call' && <Select label="Outcome" data={OUTCOMES} value={outcome} onChange={setOutcome} />}
            <NumberInput label="Duration (minutes)" min={0} value={minutes} onChange={setMinutes} />
          </Group>
        )}
        {log.isError && <ErrorPanel error={log.error} />}
        <Button type="submit" loading={log.isPending} w="fit-content">Log {kind}</Button>
      </Stack>
    </form>
  );
}

export function ActivityList({ record }: { record: RecordRef }) {
  const activities = useQuery({
    queryKey: ['activities', record.object, record.id],
    queryFn: () => api.get<{ data: Activity[] }>(`/crm/activities?object=${record.object}&id=${encodeURIComponent(record.id)}&limit=50`).then((r) => r.data),
  });
  if (activities.isError) return <ErrorPanel error={activities.error} />;
  if (activities.data?.length === 0) return <Text size="sm" c="dimmed">No activity logged yet.</Text>;
  return (
    <Stack gap="xs" aria-label="Activities">
      {activities.data?.map((a) => (
        <Stack key={a.id} gap={2} p="xs" style={{ borderLeft: '3px solid var(--mantine-color-blue-8)' }}>
          <Group gap="xs">
            <Badge size="sm" variant="light">{a.kind}</Badge>
            <Text size="sm" fw={600}>{a.subject ?? '(no subject)'}</Text>
            {a.outcome && <Text size="xs" c="dimmed">{a.outcome.replace(/_/g, ' ')}</Text>}
            {a.durationSeconds ? <Text size="xs" c="dimmed">{Math.round(a.durationSeconds / 60)} min</Text> : null}
          </Group>
          {a.body && <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>{a.body}</Text>}
          <Text size="xs" c="dimmed"><When at={a.occurredAt} /></Text>
        </Stack>
      ))}
    </Stack>
  );
}
