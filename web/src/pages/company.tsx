import { Anchor, Button, Card, Grid, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api } from '../api';
import { companyName, contactName, type Company, type Contact, type Deal } from '../crm';
import { CustomFieldRows, useFields } from '../custom-fields';
import { InlineText } from '../inline-edit';
import { MemberSelect } from '../members';
import { ActivityCards, AudienceBadges, DealsCard } from '../record-cards';
import { useSaveRecord } from '../record-save';
import { useSession } from '../session';
import { RecordTimeline } from '../timeline';
import { ErrorPanel, PageHeader, When } from '../ui';

const FIELDS = [['name', 'Name', 'text'], ['domain', 'Domain', 'text'], ['industry', 'Industry', 'text'], ['employees', 'Employees', 'number']] as const;

export default function CompanyPage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const company = useQuery({ queryKey: ['company', id], queryFn: () => api.get<Company>(`/crm/companies/${id}`) });
  const deals = useQuery({
    queryKey: ['deals', { companyId: id }],
    enabled: can('deals:read'),
    queryFn: () => api.get<{ data: Deal[] }>(`/crm/deals?companyId=${encodeURIComponent(id)}`).then((r) => r.data),
  });
  const contacts = useQueries({
    queries: (company.data?.contactIds ?? []).slice(0, 50).map((contactId) => ({
      queryKey: ['contact', contactId],
      enabled: can('contacts:read'),
      queryFn: () => api.get<Contact>(`/crm/contacts/${contactId}`),
    })),
  });
  const fields = useFields('company');
  const update = useSaveRecord<Company>({ path: `/crm/companies/${id}`, key: ['company', id], lists: [['companies']], current: company.data, noun: 'company' });
  if (company.isError) return <ErrorPanel error={company.error} />;
  if (!company.data) return null;
  const c = company.data;
  const canWrite = can('companies:write');
  return (
    <>
      <PageHeader
        title={companyName(c)}
        description={<><Anchor component={Link} to="/crm/companies" size="sm">Companies</Anchor> · {c.industry ?? 'company'} · since <When at={c.createdAt} /></>}
        actions={can('profiles:read') && <Button component={Link} to={`/profiles/${c.id}`} variant="default">Open profile</Button>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack gap="lg">
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">About</Title>
              <Table aria-label="About" verticalSpacing={4}>
                <Table.Tbody>
                  {FIELDS.map(([field, label, type]) => (
                    <Table.Tr key={field}>
                      <Table.Th fw={500} w="40%">{label}</Table.Th>
                      <Table.Td>
                        <InlineText label={label} type={type} value={c[field] === null ? null : String(c[field])} disabled={!canWrite}
                          onSave={(value) => update.mutate({ [field]: type === 'number' ? Number(value) : value })} />
                      </Table.Td>
                    </Table.Tr>
                  ))}
                  <Table.Tr>
                    <Table.Th fw={500}>Owner</Table.Th>
                    <Table.Td><MemberSelect label="Owner" hideLabel size="xs" disabled={!canWrite} value={c.ownerId} onChange={(ownerId) => update.mutate({ ownerId })} /></Table.Td>
                  </Table.Tr>
                  <CustomFieldRows fields={fields.data ?? []} values={c.custom} disabled={!canWrite} onSave={(custom) => update.mutate({ custom })} />
                  {Object.entries(c.computedTraits).map(([k, v]) => (
                    <Table.Tr key={k}><Table.Th fw={500}>{k}</Table.Th><Table.Td>{JSON.stringify(v)}</Table.Td></Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <AudienceBadges audiences={c.audiences} mt="sm" />
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Contacts</Title>
              {c.contactIds.length === 0 && <Text size="sm" c="dimmed">No contacts.</Text>}
              <Stack gap={4} role="group" aria-label="Contacts of the company">
                {c.contactIds.slice(0, 50).map((contactId, i) => {
                  const contact = contacts[i]?.data;
                  return (
                    <Group key={contactId} justify="space-between">
                      <Anchor component={Link} to={`/crm/contacts/${contactId}`} size="sm">{contact ? contactName(contact) : contactId}</Anchor>
                      <Text size="sm" c="dimmed">{contact?.title ?? contact?.email ?? ''}</Text>
                    </Group>
                  );
                })}
              </Stack>
            </Card>
            {can('deals:read') && (
              <DealsCard deals={deals.data} label="Deals of the company" />
            )}
            <ActivityCards record={{ object: 'company', id: c.id }} />
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Card withBorder>
            <Title order={2} size="h4" mb="sm">Timeline</Title>
            <RecordTimeline object="companies" id={c.id} />
          </Card>
        </Grid.Col>
      </Grid>
    </>
  );
}
