import { Anchor, Badge, Button, Checkbox, Group, Input, Modal, SegmentedControl, Select, Stack, Table, TextInput, Textarea } from '@mantine/core';
import { useDebouncedValue, useDisclosure } from '@mantine/hooks';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, query } from '../api';
import { PRIORITIES, PRIORITY_COLOR, stageLabel, TICKET_STATUS_COLOR, TICKET_STATUSES, type Priority, type Ticket } from '../crm';
import { MemberSelect, useMembers } from '../members';
import { ContactPicker } from '../pickers';
import { useSession } from '../session';
import { SlaTimer, useNow } from '../sla';
import { ErrorPanel, LoadMore, PageHeader, When } from '../ui';

type Page = { data: Ticket[]; nextCursor: string | null };

export default function Tickets() {
  const { session, can } = useSession();
  const { nameOf } = useMembers();
  const now = useNow();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get('q') ?? '');
  const [debounced] = useDebouncedValue(search, 250);
  const set = (key: string, value: string | null) => setParams((p) => {
    if (value) p.set(key, value);
    else p.delete(key);
    return p;
  }, { replace: true });
  useEffect(() => {
    if ((debounced || null) !== params.get('q')) set('q', debounced || null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  const me = session.user?.id ?? session.actor.id;
  const status = params.get('status') ?? 'active';
  const listQuery = {
    status: status === 'any' ? undefined : status,
    priority: params.get('priority') ?? undefined,
    assigneeId: params.get('who') === 'mine' ? me : undefined,
    breached: params.get('breached') === 'true' ? true : undefined,
    q: params.get('q') ?? undefined,
  };
  const tickets = useInfiniteQuery({
    queryKey: ['tickets', listQuery],
    queryFn: ({ pageParam }) => api.get<Page>(`/crm/tickets${query({ ...listQuery, limit: 100, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // The server's clock decides breaches: ask it again now and then.
    refetchInterval: 60_000,
  });
  const [creating, createModal] = useDisclosure(false);
  const rows = tickets.data?.pages.flatMap((p) => p.data) ?? [];
  const breached = rows.filter((t) => t.sla.firstResponseBreached || t.sla.resolutionBreached).length;

  return (
    <>
      <PageHeader
        title="Tickets"
        description={`The support queue, most urgent first, then oldest${breached ? ` · ${breached} past an SLA target` : ''}.`}
        actions={can('tickets:write') && <Button onClick={createModal.open}>New ticket</Button>}
      />
      <Group gap="sm" mb="sm" align="flex-end">
        <TextInput label="Search" placeholder="Subject or description" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={220} />
        <Select
          label="Status"
          allowDeselect={false}
          value={status}
          onChange={(v) => set('status', v === 'active' ? null : v)}
          data={[{ value: 'active', label: 'Active (not resolved)' }, ...TICKET_STATUSES.map((s) => ({ value: s, label: stageLabel(s) })), { value: 'any', label: 'Any' }]}
          w={200}
        />
        <Select label="Priority" placeholder="Any" clearable value={params.get('priority')} onChange={(v) => set('priority', v)} data={PRIORITIES.map((p) => ({ value: p, label: stageLabel(p) }))} w={140} />
        <Stack gap={0}>
          <Input.Label id="ticket-who">Assigned to</Input.Label>
          <SegmentedControl aria-labelledby="ticket-who" value={params.get('who') === 'mine' ? 'mine' : 'all'} onChange={(v) => set('who', v === 'mine' ? 'mine' : null)}
            data={[{ value: 'all', label: 'Anyone' }, { value: 'mine', label: 'Me' }]} />
        </Stack>
        <Checkbox label="Breached only" mb={8} checked={params.get('breached') === 'true'} onChange={(e) => set('breached', e.currentTarget.checked ? 'true' : null)} />
      </Group>
      {tickets.isError && <ErrorPanel error={tickets.error} />}
      <Table striped highlightOnHover aria-label="Tickets">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Subject</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Priority</Table.Th>
            <Table.Th>Assignee</Table.Th>
            <Table.Th>First response</Table.Th>
            <Table.Th>Resolution</Table.Th>
            <Table.Th>Opened</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((t) => (
            <Table.Tr key={t.id}>
              <Table.Td><Anchor component={Link} to={`/crm/tickets/${t.id}`}>{t.subject}</Anchor></Table.Td>
              <Table.Td><Badge variant="light" color={TICKET_STATUS_COLOR[t.status]}>{t.status}</Badge></Table.Td>
              <Table.Td><Badge variant="light" color={PRIORITY_COLOR[t.priority]}>{t.priority}</Badge></Table.Td>
              <Table.Td>{nameOf(t.assigneeId)}</Table.Td>
              <Table.Td><SlaTimer label="First response" dueAt={t.sla.firstResponseDueAt} metAt={t.sla.firstRespondedAt} breached={t.sla.firstResponseBreached} now={now} /></Table.Td>
              <Table.Td><SlaTimer label="Resolution" dueAt={t.sla.resolutionDueAt} metAt={t.sla.resolvedAt} breached={t.sla.resolutionBreached} now={now} /></Table.Td>
              <Table.Td><When at={t.createdAt} /></Table.Td>
            </Table.Tr>
          ))}
          {tickets.isSuccess && rows.length === 0 && <Table.Tr><Table.Td colSpan={7}>No ticket matches.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      <LoadMore list={tickets} />
      <Modal opened={creating} onClose={createModal.close} title="New ticket">
        <NewTicketForm onDone={createModal.close} />
      </Modal>
    </>
  );
}

function NewTicketForm({ onDone }: { onDone: () => void }) {
  const { can } = useSession();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [priority, setPriority] = useState<Priority>('normal');
  const [channel, setChannel] = useState<string | null>('email');
  const [assigneeId, setAssigneeId] = useState<string | null>(null);
  const [contactId, setContactId] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Ticket>('/crm/tickets', body),
    onSuccess: (ticket) => {
      void client.invalidateQueries({ queryKey: ['tickets'] });
      onDone();
      navigate(`/crm/tickets/${ticket.id}`);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({ subject: form.get('subject'), description: form.get('description') || null, priority, channel: channel ?? 'other', assigneeId, contactId });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        {create.isError && <ErrorPanel error={create.error} />}
        <TextInput label="Subject" name="subject" required data-autofocus />
        <Textarea label="Description" name="description" autosize minRows={3} />
        <Select label="Priority" description="Sets the SLA targets." allowDeselect={false} value={priority} onChange={(v) => setPriority((v ?? 'normal') as Priority)} data={PRIORITIES.map((p) => ({ value: p, label: stageLabel(p) }))} />
        <Select label="Channel" allowDeselect={false} value={channel} onChange={setChannel} data={['email', 'chat', 'phone', 'web', 'other'].map((c) => ({ value: c, label: stageLabel(c) }))} />
        <MemberSelect label="Assignee" value={assigneeId} onChange={setAssigneeId} />
        {can('contacts:read') && <ContactPicker value={contactId} onChange={setContactId} />}
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>Cancel</Button>
          <Button type="submit" loading={create.isPending}>Open ticket</Button>
        </Group>
      </Stack>
    </form>
  );
}
