import { Anchor, Button, Card, Grid, Select, Stack, Table, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api } from '../api';
import { InlineText } from '../inline-edit';
import { contactName, LIFECYCLE_STAGES, stageLabel, type Contact, type Deal } from '../crm';
import { ActivityCards, AudienceBadges, DealsCard } from '../record-cards';
import { useSaveRecord } from '../record-save';
import { useSession } from '../session';
import { RecordTimeline } from '../timeline';
import { ErrorPanel, PageHeader, When } from '../ui';

const FIELD_LABELS = { name: 'Name', email: 'Email', phone: 'Phone', title: 'Job title' } as const;

export default function ContactPage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const contact = useQuery({ queryKey: ['contact', id], queryFn: () => api.get<Contact>(`/crm/contacts/${id}`) });
  const deals = useQuery({ queryKey: ['deals', { contactId: id }], queryFn: () => api.get<{ data: Deal[] }>(`/crm/deals?contactId=${encodeURIComponent(id)}`).then((r) => r.data) });
  const update = useSaveRecord<Contact>({ path: `/crm/contacts/${id}`, key: ['contact', id], lists: [['contacts']], current: contact.data, noun: 'contact' });
  if (contact.isError) return <ErrorPanel error={contact.error} />;
  if (!contact.data) return null;
  const c = contact.data;
  const canWrite = can('contacts:write');
  return (
    <>
      <PageHeader
        title={contactName(c)}
        description={<><Anchor component={Link} to="/crm/contacts" size="sm">Contacts</Anchor> · {c.title ?? 'contact'} · since <When at={c.createdAt} /></>}
        actions={can('profiles:read') && <Button component={Link} to={`/profiles/${c.id}`} variant="default">Open profile</Button>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack gap="lg">
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">About</Title>
              <Table aria-label="About" verticalSpacing={4}>
                <Table.Tbody>
                  {(['name', 'email', 'phone', 'title'] as const).map((field) => (
                    <Table.Tr key={field}>
                      <Table.Th fw={500} w="40%">{FIELD_LABELS[field]}</Table.Th>
                      <Table.Td>
                        <InlineText label={FIELD_LABELS[field]} value={c[field]} disabled={!canWrite} onSave={(value) => update.mutate({ [field]: value })} />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                  <Table.Tr>
                    <Table.Th fw={500}>Lifecycle stage</Table.Th>
                    <Table.Td>
                      <Select
                        aria-label="Lifecycle stage"
                        size="xs"
                        disabled={!canWrite}
                        value={c.lifecycleStage}
                        onChange={(v) => update.mutate({ lifecycleStage: v })}
                        data={LIFECYCLE_STAGES.map((s) => ({ value: s, label: stageLabel(s) }))}
                      />
                    </Table.Td>
                  </Table.Tr>
                  {Object.entries(c.computedTraits).map(([k, v]) => (
                    <Table.Tr key={k}><Table.Th fw={500}>{k}</Table.Th><Table.Td>{JSON.stringify(v)}</Table.Td></Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <AudienceBadges audiences={c.audiences} mt="sm" />
            </Card>
            <DealsCard deals={deals.data} label="Deals of the contact" />
            <ActivityCards record={{ object: 'contact', id: c.id }} />
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Card withBorder>
            <Title order={2} size="h4" mb="sm">Timeline</Title>
            <RecordTimeline object="contacts" id={c.id} />
          </Card>
        </Grid.Col>
      </Grid>
    </>
  );
}
