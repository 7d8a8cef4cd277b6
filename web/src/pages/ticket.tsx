import { Anchor, Badge, Button, Card, Grid, Group, SegmentedControl, Select, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useParams } from 'react-router';
import { ActivityList } from '../activities';
import { api } from '../api';
import { companyName, contactName, PRIORITIES, PRIORITY_COLOR, stageLabel, TICKET_STATUS_COLOR, TICKET_STATUSES, type Company, type Contact, type Ticket } from '../crm';
import { CustomFieldRows, useFields } from '../custom-fields';
import { MemberSelect } from '../members';
import { useSaveRecord } from '../record-save';
import { useSession } from '../session';
import { SlaTimer, useNow } from '../sla';
import { ErrorPanel, PageHeader, When } from '../ui';

export default function TicketPage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const now = useNow();
  const ticket = useQuery({ queryKey: ['ticket', id], queryFn: () => api.get<Ticket>(`/crm/tickets/${id}`), refetchInterval: 60_000 });
  const fields = useFields('ticket');
  const contactId = ticket.data?.contactId;
  const companyId = ticket.data?.companyId;
  const contact = useQuery({ queryKey: ['contact', contactId], enabled: Boolean(contactId) && can('contacts:read'), queryFn: () => api.get<Contact>(`/crm/contacts/${contactId}`) });
  const company = useQuery({ queryKey: ['company', companyId], enabled: Boolean(companyId) && can('companies:read'), queryFn: () => api.get<Company>(`/crm/companies/${companyId}`) });
  const update = useSaveRecord<Ticket>({ path: `/crm/tickets/${id}`, key: ['ticket', id], lists: [['tickets']], current: ticket.data, noun: 'ticket' });
  if (ticket.isError) return <ErrorPanel error={ticket.error} />;
  if (!ticket.data) return null;
  const t = ticket.data;
  const canWrite = can('tickets:write');
  return (
    <>
      <PageHeader
        title={t.subject}
        description={<><Anchor component={Link} to="/crm/tickets" size="sm">Tickets</Anchor> · {t.channel} · opened <When at={t.createdAt} /></>}
        actions={<Group gap="xs"><Badge variant="light" color={TICKET_STATUS_COLOR[t.status]}>{t.status}</Badge><Badge variant="light" color={PRIORITY_COLOR[t.priority]}>{t.priority}</Badge></Group>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack gap="lg">
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Ticket</Title>
              <Table aria-label="Ticket fields" verticalSpacing={4}>
                <Table.Tbody>
                  <Table.Tr>
                    <Table.Th fw={500} w="40%">Status</Table.Th>
                    <Table.Td>
                      <Select aria-label="Status" size="xs" allowDeselect={false} disabled={!canWrite} value={t.status}
                        data={TICKET_STATUSES.map((s) => ({ value: s, label: stageLabel(s) }))} onChange={(status) => status && status !== t.status && update.mutate({ status })} />
                    </Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Priority</Table.Th>
                    <Table.Td>
                      <Select aria-label="Priority" size="xs" allowDeselect={false} disabled={!canWrite} value={t.priority}
                        data={PRIORITIES.map((p) => ({ value: p, label: stageLabel(p) }))} onChange={(priority) => priority && priority !== t.priority && update.mutate({ priority })} />
                    </Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Assignee</Table.Th>
                    <Table.Td><MemberSelect label="Assignee" hideLabel size="xs" disabled={!canWrite} value={t.assigneeId} onChange={(assigneeId) => update.mutate({ assigneeId })} /></Table.Td>
                  </Table.Tr>
                  <SlaRow label="First response" dueAt={t.sla.firstResponseDueAt} metAt={t.sla.firstRespondedAt} breached={t.sla.firstResponseBreached} now={now} />
                  <SlaRow label="Resolution" dueAt={t.sla.resolutionDueAt} metAt={t.sla.resolvedAt} breached={t.sla.resolutionBreached} now={now} />
                  <Table.Tr>
                    <Table.Th fw={500}>Contact</Table.Th>
                    <Table.Td>{contactId ? <Anchor component={Link} to={`/crm/contacts/${contactId}`} size="sm">{contact.data ? contactName(contact.data) : contactId}</Anchor> : '—'}</Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Company</Table.Th>
                    <Table.Td>{companyId ? <Anchor component={Link} to={`/crm/companies/${companyId}`} size="sm">{company.data ? companyName(company.data) : companyId}</Anchor> : '—'}</Table.Td>
                  </Table.Tr>
                  <CustomFieldRows fields={fields.data ?? []} values={t.custom} disabled={!canWrite} onSave={(custom) => update.mutate({ custom })} />
                </Table.Tbody>
              </Table>
            </Card>
            {t.description && (
              <Card withBorder>
                <Title order={2} size="h4" mb="sm">Description</Title>
                <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>{t.description}</Text>
              </Card>
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack gap="lg">
            {can('activities:write') && (
              <Card withBorder>
                <Title order={2} size="h4" mb="sm">Reply or note</Title>
                <TicketReply ticket={t} />
              </Card>
            )}
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Conversation</Title>
              <ActivityList record={{ object: 'ticket', id: t.id }} />
            </Card>
          </Stack>
        </Grid.Col>
      </Grid>
    </>
  );
}

/** A reply (an outbound email: the ticket's first response, when it is the first) or an internal note, logged on the ticket. */
function TicketReply({ ticket }: { ticket: Ticket }) {
  const client = useQueryClient();
  const { session } = useSession();
  const [kind, setKind] = useState<'reply' | 'note'>('reply');
  const log = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post('/crm/activities', body),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['activities', 'ticket', ticket.id] });
      void client.invalidateQueries({ queryKey: ['ticket', ticket.id] });
      void client.invalidateQueries({ queryKey: ['tickets'] });
      notifications.show({ color: 'green', message: kind === 'reply' ? 'Reply logged.' : 'Note logged.' });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const about = { ownerId: session.user?.id ?? null, ticketIds: [ticket.id], ...(ticket.contactId ? { contactIds: [ticket.contactId] } : {}), ...(ticket.companyId ? { companyIds: [ticket.companyId] } : {}) };
    const body = kind === 'reply'
      ? { kind: 'email', direction: 'outbound', subject: data.get('subject') || `Re: ${ticket.subject}`, body: data.get('body'), ...about }
      : { kind: 'note', subject: data.get('subject') || null, body: data.get('body'), ...about };
    log.mutate(body, { onSuccess: () => form.reset() });
  };
  return (
    <form onSubmit={submit} aria-label="Reply or note">
      <Stack gap="xs">
        <SegmentedControl aria-label="Kind" value={kind} onChange={(v) => setKind(v as 'reply' | 'note')} data={[{ value: 'reply', label: 'Reply' }, { value: 'note', label: 'Internal note' }]} />
        <TextInput label="Subject" name="subject" placeholder={kind === 'reply' ? `Re: ${ticket.subject}` : undefined} />
        <Textarea label={kind === 'reply' ? 'Reply' : 'Note'} name="body" required autosize minRows={3} />
        {log.isError && <ErrorPanel error={log.error} />}
        <Button type="submit" loading={log.isPending} w="fit-content">{kind === 'reply' ? 'Log reply' : 'Add note'}</Button>
      </Stack>
    </form>
  );
}

/** One SLA target of the ticket: its timer (time left, met or breached) and when it is due. */
function SlaRow(props: { label: string; dueAt: string; metAt: string | null; breached: boolean; now: number }) {
  return (
    <Table.Tr>
      <Table.Th fw={500}>{props.label}</Table.Th>
      <Table.Td>
        <Group gap={6}>
          <SlaTimer {...props} />
          <Text size="xs" c="dimmed">due <When at={props.dueAt} /></Text>
        </Group>
      </Table.Td>
    </Table.Tr>
  );
}
