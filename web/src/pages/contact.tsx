import { Anchor, Badge, Button, Card, Grid, Group, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, messageOf } from '../api';
import { ActivityList, LogActivity } from '../activities';
import { contactName, etagOf, LIFECYCLE_STAGES, stageLabel, type Contact, type Deal } from '../crm';
import { useSession } from '../session';
import { RecordTimeline } from '../timeline';
import { ErrorPanel, money, PageHeader, When } from '../ui';

const FIELD_LABELS = { name: 'Name', email: 'Email', phone: 'Phone', title: 'Job title' } as const;

/** A field edited where it is shown: saved on Enter or when focus leaves, restored on Escape. */
function InlineText({ label, value, disabled, onSave }: { label: string; value: string | null; disabled: boolean; onSave: (value: string) => void }) {
  const [draft, setDraft] = useState(value ?? '');
  useEffect(() => setDraft(value ?? ''), [value]);
  const save = () => {
    const next = draft.trim();
    if (next && next !== (value ?? '')) onSave(next);
    else setDraft(value ?? '');
  };
  return (
    <TextInput
      aria-label={label}
      size="xs"
      variant="filled"
      disabled={disabled}
      value={draft}
      placeholder="—"
      onChange={(e) => setDraft(e.currentTarget.value)}
      onBlur={save}
      onKeyDown={(e) => {
        if (e.key === 'Enter') e.currentTarget.blur();
        if (e.key === 'Escape') setDraft(value ?? '');
      }}
    />
  );
}

export default function ContactPage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const client = useQueryClient();
  const contact = useQuery({ queryKey: ['contact', id], queryFn: () => api.get<Contact>(`/crm/contacts/${id}`) });
  const deals = useQuery({ queryKey: ['deals', { contactId: id }], queryFn: () => api.get<{ data: Deal[] }>(`/crm/deals?contactId=${encodeURIComponent(id)}`).then((r) => r.data) });
  const update = useMutation({
    mutationFn: (change: Partial<Contact>) => api.patch<Contact>(`/crm/contacts/${id}`, change, { headers: { 'if-match': etagOf(contact.data!) } }),
    onSuccess: (next) => {
      client.setQueryData(['contact', id], next);
      void client.invalidateQueries({ queryKey: ['contacts'] });
      notifications.show({ color: 'green', message: 'Saved.' });
    },
    onError: (error) => {
      notifications.show({ color: 'red', title: 'Not saved', message: messageOf(error) });
      void client.invalidateQueries({ queryKey: ['contact', id] });
    },
  });
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
              <Group gap={4} mt="sm">{c.audiences.map((a) => <Badge key={a} variant="light" color="grape" tt="none">{a}</Badge>)}</Group>
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Deals</Title>
              {deals.data?.length === 0 && <Text size="sm" c="dimmed">No deals.</Text>}
              <Stack gap={4}>
                {deals.data?.map((d) => (
                  <Group key={d.id} justify="space-between">
                    <Anchor component={Link} to={`/crm/deals?deal=${d.id}`} size="sm">{d.name}</Anchor>
                    <Text size="sm">{money(d.amount, d.currency)} · {d.status}</Text>
                  </Group>
                ))}
              </Stack>
            </Card>
            {can('activities:write') && (
              <Card withBorder>
                <Title order={2} size="h4" mb="sm">Log activity</Title>
                <LogActivity record={{ object: 'contact', id: c.id }} />
              </Card>
            )}
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Activities</Title>
              <ActivityList record={{ object: 'contact', id: c.id }} />
            </Card>
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
