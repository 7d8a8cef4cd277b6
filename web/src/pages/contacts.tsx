import { ActionIcon, Anchor, Badge, Button, Group, Modal, Select, Stack, Table, TextInput, Tooltip } from '@mantine/core';
import { useDebouncedValue, useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, messageOf, query } from '../api';
import { contactName, LIFECYCLE_STAGES, stageLabel, type Contact, type SavedView } from '../crm';
import { useSession } from '../session';
import { ErrorPanel, PageHeader, When } from '../ui';

// The list query lives in the address, so a filtered list can be bookmarked, shared and saved as a view.
const QUERY_KEYS = ['q', 'lifecycleStage', 'audience', 'sort', 'order'] as const;

export default function Contacts() {
  const { can } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const current = Object.fromEntries(QUERY_KEYS.map((k) => [k, params.get(k) ?? undefined]).filter(([, v]) => v)) as Record<string, string>;
  const [search, setSearch] = useState(current.q ?? '');
  const [debounced] = useDebouncedValue(search, 250);
  const set = (key: string, value: string | null | undefined) => setParams((p) => {
    if (value) p.set(key, value);
    else p.delete(key);
    p.delete('view');
    return p;
  }, { replace: true });
  useEffect(() => {
    if ((debounced || undefined) !== current.q) set('q', debounced);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  const contacts = useInfiniteQuery({
    queryKey: ['contacts', current],
    queryFn: ({ pageParam }) => api.get<{ data: Contact[]; nextCursor: string | null }>(`/crm/contacts${query({ ...current, limit: 50, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const audiences = useQuery({
    queryKey: ['audiences'],
    enabled: can('audiences:read'),
    queryFn: () => api.get<{ data: { key: string; name: string }[] }>('/audiences').then((r) => r.data),
  });
  const computed = useQuery({
    queryKey: ['computed-traits'],
    enabled: can('computed_traits:read'),
    queryFn: () => api.get<{ data: { key: string; name: string }[] }>('/computed-traits').then((r) => r.data),
  });
  const views = useQuery({ queryKey: ['views', 'contact'], enabled: can('crm_settings:read'), queryFn: () => api.get<{ data: SavedView[] }>('/crm/views?object=contact').then((r) => r.data) });
  const selectedView = params.get('view');
  const applyView = (id: string | null) => {
    const view = views.data?.find((v) => v.id === id);
    const next = new URLSearchParams();
    if (view) {
      for (const [k, v] of Object.entries(view.query)) next.set(k, String(v));
      next.set('view', view.id);
    }
    setSearch(view?.query.q ? String(view.query.q) : '');
    setParams(next, { replace: true });
  };
  const deleteView = useMutation({
    mutationFn: (id: string) => api.delete(`/crm/views/${id}`),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['views', 'contact'] });
      applyView(null);
    },
  });
  const [saving, saveModal] = useDisclosure(false);
  const [creating, createModal] = useDisclosure(false);
  const rows = contacts.data?.pages.flatMap((p) => p.data) ?? [];
  const sortValue = current.sort ? `${current.sort}|${current.order ?? 'desc'}` : 'createdAt|desc';

  return (
    <>
      <PageHeader
        title="Contacts"
        description="Every known person: each contact is a unified profile, with its web activity, audiences and scores."
        actions={can('contacts:write') && <Button onClick={createModal.open}>New contact</Button>}
      />
      <Group gap="sm" mb="sm" align="flex-end">
        <Select
          label="Saved view"
          placeholder="All contacts"
          clearable
          value={selectedView}
          onChange={applyView}
          data={(views.data ?? []).map((v) => ({ value: v.id, label: v.name }))}
          w={200}
        />
        {selectedView && can('crm_settings:write') && (
          <Tooltip label="Delete this view">
            <ActionIcon variant="subtle" color="red" size="lg" aria-label="Delete view" onClick={() => deleteView.mutate(selectedView)}>×</ActionIcon>
          </Tooltip>
        )}
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
        {can('audiences:read') && (
          <Select
            label="Audience"
            placeholder="Any"
            clearable
            value={current.audience ?? null}
            onChange={(v) => set('audience', v)}
            data={(audiences.data ?? []).map((a) => ({ value: a.key, label: a.name }))}
            w={180}
          />
        )}
        <Select
          label="Sort"
          allowDeselect={false}
          value={sortValue}
          onChange={(v) => {
            const [sort, order] = (v ?? 'createdAt|desc').split('|');
            setParams((p) => {
              p.set('sort', sort);
              p.set('order', order);
              p.delete('view');
              return p;
            }, { replace: true });
          }}
          data={[
            { value: 'createdAt|desc', label: 'Newest first' },
            { value: 'createdAt|asc', label: 'Oldest first' },
            ...(computed.data ?? []).flatMap((c) => [
              { value: `computed:${c.key}|desc`, label: `${c.name}: highest first` },
              { value: `computed:${c.key}|asc`, label: `${c.name}: lowest first` },
            ]),
          ]}
          w={210}
        />
        {can('crm_settings:write') && <Button variant="default" onClick={saveModal.open}>Save view</Button>}
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
                <Group gap={4}>{c.audiences.map((a) => <Badge key={a} size="sm" variant="light" color="grape" tt="none">{a}</Badge>)}</Group>
              </Table.Td>
              <Table.Td><When at={c.createdAt} /></Table.Td>
            </Table.Tr>
          ))}
          {contacts.isSuccess && rows.length === 0 && <Table.Tr><Table.Td colSpan={5}>No contact matches.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      {contacts.hasNextPage && (
        <Group justify="center" mt="md">
          <Button variant="default" loading={contacts.isFetchingNextPage} onClick={() => void contacts.fetchNextPage()}>Load more</Button>
        </Group>
      )}
      <Modal opened={saving} onClose={saveModal.close} title="Save this view">
        {/* What the inputs show, even when the search box has not reached the address yet. */}
        <SaveViewForm query={Object.fromEntries(Object.entries({ ...current, q: search.trim() }).filter(([, v]) => v))} onDone={(id) => {
          saveModal.close();
          if (id) setParams((p) => {
            p.set('view', id);
            return p;
          }, { replace: true });
        }} />
      </Modal>
      <Modal opened={creating} onClose={createModal.close} title="New contact">
        <NewContactForm onDone={createModal.close} />
      </Modal>
    </>
  );
}

function SaveViewForm({ query: q, onDone }: { query: Record<string, string>; onDone: (id?: string) => void }) {
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (name: string) => api.post<SavedView>('/crm/views', { object: 'contact', name, query: q }),
    onSuccess: (view) => {
      void client.invalidateQueries({ queryKey: ['views', 'contact'] });
      notifications.show({ color: 'green', message: `View "${view.name}" saved for the workspace.` });
      onDone(view.id);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate(String(new FormData(event.currentTarget).get('name') ?? ''));
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput label="View name" name="name" required data-autofocus error={save.isError ? messageOf(save.error) : undefined} />
        <Group justify="flex-end">
          <Button variant="default" onClick={() => onDone()}>Cancel</Button>
          <Button type="submit" loading={save.isPending}>Save view</Button>
        </Group>
      </Stack>
    </form>
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
