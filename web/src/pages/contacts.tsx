import { Anchor, Button, Group, Modal, Select, Stack, Table, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, query } from '../api';
import { contactName, LIFECYCLE_STAGES, stageLabel, type Contact } from '../crm';
import { AudienceFilter, ComputedSort, useListQuery } from '../record-list';
import { SavedViews } from '../saved-views';
import { useSession } from '../session';
import { ErrorPanel, LoadMore, PageHeader, When } from '../ui';
import { AudienceBadges } from '../record-cards';

// The list query lives in the address, so a filtered list can be bookmarked, shared and saved as a view.
const QUERY_KEYS = ['q', 'lifecycleStage', 'audience', 'sort', 'order'] as const;

export default function Contacts() {
  const { can } = useSession();
  const { current, search, setSearch, set, sortBy } = useListQuery(QUERY_KEYS);

  const contacts = useInfiniteQuery({
    queryKey: ['contacts', current],
    queryFn: ({ pageParam }) => api.get<{ data: Contact[]; nextCursor: string | null }>(`/crm/contacts${query({ ...current, limit: 50, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const [creating, createModal] = useDisclosure(false);
  const rows = contacts.data?.pages.flatMap((p) => p.data) ?? [];

  return (
    <>
      <PageHeader
        title="Contacts"
        description="Every known person: each contact is a unified profile, with its web activity, audiences and scores."
        actions={can('contacts:write') && <Button onClick={createModal.open}>New contact</Button>}
      />
      <Group gap="sm" mb="sm" align="flex-end">
        <SavedViews object="contact" plural="contacts" query={Object.fromEntries(Object.entries({ ...current, q: search.trim() }).filter(([, v]) => v))} onApply={(q) => setSearch(q.q ?? '')} />
        <TextInput label="Search" placeholder="Name or email" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={220} />
        <Select
          label="Lifecycle stage"
          placeholder="Any"
          clearable
          value={current.lifecycleStage ?? null}
          onChange={(v) => set('lifecycleStage', v)}
          data={LIFECYCLE_STAGES.map((s) => ({ value: s, label: stageLabel(s) }))}
          w={210}
        />
        <AudienceFilter value={current.audience ?? null} onChange={(v) => set('audience', v)} />
        <ComputedSort sort={current.sort} order={current.order} onChange={sortBy} />
      </Group>
      {contacts.isError && <ErrorPanel error={contacts.error} />}
      <Table striped highlightOnHover aria-label="Contacts">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Email</Table.Th>
            <Table.Th>Lifecycle stage</Table.Th>
            <Table.Th>Audiences</Table.Th>
            <Table.Th>Created</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td><Anchor component={Link} to={`/crm/contacts/${c.id}`}>{contactName(c)}</Anchor></Table.Td>
              <Table.Td>{c.email}</Table.Td>
              <Table.Td>{c.lifecycleStage ? stageLabel(c.lifecycleStage) : '—'}</Table.Td>
              <Table.Td>
                <AudienceBadges audiences={c.audiences} size="sm" />
              </Table.Td>
              <Table.Td><When at={c.createdAt} /></Table.Td>
            </Table.Tr>
          ))}
          {contacts.isSuccess && rows.length === 0 && <Table.Tr><Table.Td colSpan={5}>No contact matches.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      <LoadMore list={contacts} />
      <Modal opened={creating} onClose={createModal.close} title="New contact">
        <NewContactForm onDone={createModal.close} />
      </Modal>
    </>
  );
}

function NewContactForm({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [stage, setStage] = useState<string | null>('lead');
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Contact>('/crm/contacts', body),
    onSuccess: (contact) => {
      void client.invalidateQueries({ queryKey: ['contacts'] });
      onDone();
      navigate(`/crm/contacts/${contact.id}`);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: Record<string, unknown> = { email: form.get('email') };
    for (const key of ['name', 'phone', 'title']) if (form.get(key)) body[key] = form.get(key);
    if (stage) body.lifecycleStage = stage;
    create.mutate(body);
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        {create.isError && <ErrorPanel error={create.error} />}
        <TextInput label="Email" name="email" type="email" required data-autofocus />
        <TextInput label="Name" name="name" />
        <TextInput label="Phone" name="phone" />
        <TextInput label="Job title" name="title" />
        <Select label="Lifecycle stage" value={stage} onChange={setStage} clearable data={LIFECYCLE_STAGES.map((s) => ({ value: s, label: stageLabel(s) }))} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>Cancel</Button>
          <Button type="submit" loading={create.isPending}>Create contact</Button>
        </Group>
      </Stack>
    </form>
  );
}
