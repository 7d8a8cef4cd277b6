import { Anchor, Badge, Box, Card, CloseButton, Grid, Group, Select, Stack, Table, Text, Timeline, Title } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, query } from '../api';
import { companyName, contactName, type Company, type Contact, type Deal, type Pipeline, type StageChange } from '../crm';
import { CustomFieldRows, useFields } from '../custom-fields';
import { InlineText } from '../inline-edit';
import { MemberSelect, useMembers } from '../members';
import { CompanyPicker, ContactPicker } from '../pickers';
import { ActivityCards } from '../record-cards';
import { useSaveRecord } from '../record-save';
import { useSession } from '../session';
import { DealTasks } from '../tasks';
import { ErrorPanel, money, PageHeader, When } from '../ui';

const OUTCOME_COLOR = { open: 'blue', won: 'green', lost: 'red' } as const;

export default function DealPage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const { nameOf } = useMembers();
  const deal = useQuery({ queryKey: ['deal', id], queryFn: () => api.get<Deal>(`/crm/deals/${id}`) });
  const history = useQuery({ queryKey: ['deal', id, 'history'], queryFn: () => api.get<{ data: StageChange[] }>(`/crm/deals/${id}/stage-history`).then((r) => r.data) });
  const pipelines = useQuery({ queryKey: ['pipelines'], queryFn: () => api.get<{ data: Pipeline[] }>('/crm/pipelines').then((r) => r.data) });
  const fields = useFields('deal');
  const contacts = useQueries({
    queries: (deal.data?.contactIds ?? []).map((contactId) => ({ queryKey: ['contact', contactId], enabled: can('contacts:read'), queryFn: () => api.get<Contact>(`/crm/contacts/${contactId}`) })),
  });
  const companyId = deal.data?.companyId;
  const company = useQuery({ queryKey: ['company', companyId], enabled: Boolean(companyId) && can('companies:read'), queryFn: () => api.get<Company>(`/crm/companies/${companyId}`) });
  const update = useSaveRecord<Deal>({ path: `/crm/deals/${id}`, key: ['deal', id], lists: [['deal', id, 'history'], ['deals']], current: deal.data, noun: 'deal' });
  if (deal.isError) return <ErrorPanel error={deal.error} />;
  if (!deal.data) return null;
  const d = deal.data;
  const canWrite = can('deals:write');
  const pipeline = pipelines.data?.find((p) => p.id === d.pipelineId);
  const stages = pipelines.data?.flatMap((p) => p.stages) ?? [];
  const stage = stages.find((s) => s.id === d.stageId);
  const stageName = (stageId: string) => stages.find((s) => s.id === stageId)?.name ?? stageId;
  // An actor is "user:<id>" or "api_key:<id>".
  const actorName = (actor: string) => (actor.startsWith('user:') ? nameOf(actor.slice(5)) : actor.startsWith('api_key:') ? 'an API key' : actor);

  return (
    <>
      <PageHeader
        title={d.name}
        description={<><Anchor component={Link} to={`/crm/deals${query({ pipeline: d.pipelineId })}`} size="sm">Deals</Anchor> · {pipeline?.name ?? 'pipeline'} · created <When at={d.createdAt} /></>}
        actions={<Group gap="xs"><Text fw={700} size="lg">{money(d.amount, d.currency)}</Text><Badge color={OUTCOME_COLOR[d.status]} variant="light">{d.status}</Badge></Group>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Stack gap="lg">
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Deal</Title>
              <Table aria-label="Deal fields" verticalSpacing={4}>
                <Table.Tbody>
                  <Table.Tr>
                    <Table.Th fw={500} w="40%">Name</Table.Th>
                    <Table.Td><InlineText label="Name" value={d.name} disabled={!canWrite} onSave={(name) => update.mutate({ name })} /></Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Stage</Table.Th>
                    <Table.Td>
                      <Select aria-label="Stage" size="xs" allowDeselect={false} disabled={!canWrite} value={d.stageId}
                        data={(pipeline?.stages ?? []).map((s) => ({ value: s.id, label: `${s.name} (${s.probability}%)` }))}
                        onChange={(stageId) => stageId && stageId !== d.stageId && update.mutate({ stageId })} />
                    </Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Amount ({d.currency})</Table.Th>
                    <Table.Td><InlineText label="Amount" type="number" value={d.amount === null ? null : String(d.amount)} disabled={!canWrite} onSave={(v) => update.mutate({ amount: Number(v) })} /></Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Weighted</Table.Th>
                    <Table.Td><Text size="sm">{stage && d.amount !== null ? money((d.amount * stage.probability) / 100, d.currency) : '—'}</Text></Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Close date</Table.Th>
                    <Table.Td><InlineText label="Close date" type="date" value={d.closeDate} disabled={!canWrite} onSave={(closeDate) => update.mutate({ closeDate })} /></Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Owner</Table.Th>
                    <Table.Td><MemberSelect label="Owner" hideLabel size="xs" disabled={!canWrite} value={d.ownerId} onChange={(ownerId) => update.mutate({ ownerId })} /></Table.Td>
                  </Table.Tr>
                  <Table.Tr>
                    <Table.Th fw={500}>Company</Table.Th>
                    <Table.Td>
                      <CompanyPicker value={d.companyId} label={company.data ? companyName(company.data) : undefined} disabled={!canWrite} onChange={(next) => update.mutate({ companyId: next })} />
                    </Table.Td>
                  </Table.Tr>
                  <CustomFieldRows fields={fields.data ?? []} values={d.custom ?? {}} disabled={!canWrite} onSave={(custom) => update.mutate({ custom })} />
                  {d.closedAt && <Table.Tr><Table.Th fw={500}>Closed</Table.Th><Table.Td><When at={d.closedAt} /></Table.Td></Table.Tr>}
                </Table.Tbody>
              </Table>
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Contacts and company</Title>
              {company.data && (
                <Text size="sm" mb="xs">Company: <Anchor component={Link} to={`/crm/companies/${company.data.id}`}>{companyName(company.data)}</Anchor></Text>
              )}
              {d.contactIds.length === 0 && <Text size="sm" c="dimmed">No contacts.</Text>}
              <Stack gap={4} aria-label="Contacts of the deal">
                {d.contactIds.map((contactId, i) => {
                  const contact = contacts[i]?.data;
                  return (
                    <Group key={contactId} justify="space-between" wrap="nowrap">
                      <Anchor component={Link} to={`/crm/contacts/${contactId}`} size="sm">{contact ? contactName(contact) : contactId}</Anchor>
                      <Group gap={4} wrap="nowrap">
                        <Text size="sm" c="dimmed">{contact?.email ?? ''}</Text>
                        {canWrite && (
                          <CloseButton size="sm" aria-label={`Remove ${contact ? contactName(contact) : contactId} from the deal`}
                            onClick={() => update.mutate({ contactIds: d.contactIds.filter((c) => c !== contactId) })} />
                        )}
                      </Group>
                    </Group>
                  );
                })}
              </Stack>
              {canWrite && (
                <Box mt="sm">
                  <ContactPicker label="Add a contact" value={null} exclude={d.contactIds} onChange={(contactId) => contactId && update.mutate({ contactIds: [...d.contactIds, contactId] })} />
                </Box>
              )}
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Stage history</Title>
              <Timeline bulletSize={12} lineWidth={2} aria-label="Stage history">
                {(history.data ?? []).map((h, i) => (
                  <Timeline.Item key={i} title={<Text size="sm" fw={600}>{h.fromStageId ? `${stageName(h.fromStageId)} → ${stageName(h.toStageId)}` : `Created in ${stageName(h.toStageId)}`}</Text>}>
                    <Text size="xs" c="dimmed"><When at={h.at} />{h.actor ? ` · ${actorName(h.actor)}` : ''}</Text>
                  </Timeline.Item>
                ))}
              </Timeline>
            </Card>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 6 }}>
          <Stack gap="lg">
            {can('tasks:read') && (
              <Card withBorder>
                <Title order={2} size="h4" mb="sm">Tasks</Title>
                <DealTasks dealId={d.id} contactIds={d.contactIds} />
              </Card>
            )}
            <ActivityCards record={{ object: 'deal', id: d.id }} alsoContacts={d.contactIds} />
          </Stack>
        </Grid.Col>
      </Grid>
    </>
  );
}
