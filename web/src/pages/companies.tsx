import { Anchor, Button, Group, Modal, NumberInput, Stack, Table, TextInput } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, messageOf, query } from '../api';
import { companyName, etagOf, type Company } from '../crm';
import { customText, useFields } from '../custom-fields';
import { AudienceFilter, ComputedSort, useListQuery } from '../record-list';
import { SavedViews } from '../saved-views';
import { MemberSelect } from '../members';
import { useSession } from '../session';
import { ErrorPanel, LoadMore, PageHeader, When } from '../ui';
import { AudienceBadges } from '../record-cards';

// The list query lives in the address, so a filtered list can be bookmarked, shared and saved as a view.
const QUERY_KEYS = ['q', 'ownerId', 'audience', 'sort', 'order'] as const;
type Page = { data: Company[]; nextCursor: string | null };

export default function Companies() {
  const { can } = useSession();
  const client = useQueryClient();
  const { current, search, setSearch, set, sortBy } = useListQuery(QUERY_KEYS);

  const listKey = ['companies', current];
  const companies = useInfiniteQuery({
    queryKey: listKey,
    queryFn: ({ pageParam }) => api.get<Page>(`/crm/companies${query({ ...current, limit: 50, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const fields = useFields('company');
  const custom = fields.data ?? [];
  const canWrite = can('companies:write');
  const [creating, createModal] = useDisclosure(false);
  const rows = companies.data?.pages.flatMap((p) => p.data) ?? [];

  // The owner is changed in the row; the list keeps the saved company (with its new version).
  const setOwner = useMutation({
    mutationFn: ({ company, ownerId }: { company: Company; ownerId: string | null }) =>
      api.patch<Company>(`/crm/companies/${company.id}`, { ownerId }, { headers: { 'if-match': etagOf(company) } }),
    onSuccess: (saved) => {
      client.setQueryData<{ pages: Page[]; pageParams: unknown[] }>(listKey, (data) => data && {
        ...data, pages: data.pages.map((p) => ({ ...p, data: p.data.map((c) => (c.id === saved.id ? saved : c)) })),
      });
      void client.invalidateQueries({ queryKey: ['company', saved.id] });
      notifications.show({ color: 'green', message: `Owner of ${companyName(saved)} saved.` });
    },
    onError: (error) => {
      notifications.show({ color: 'red', title: 'Not saved', message: messageOf(error) });
      void client.invalidateQueries({ queryKey: ['companies'] });
    },
  });

  return (
    <>
      <PageHeader
        title="Companies"
        description="Every account: each company is a unified profile, with its contacts, deals, audiences and scores."
        actions={canWrite && <Button onClick={createModal.open}>New company</Button>}
      />
      <Group gap="sm" mb="sm" align="flex-end">
        <SavedViews object="company" plural="companies" query={Object.fromEntries(Object.entries({ ...current, q: search.trim() }).filter(([, v]) => v))} onApply={(q) => setSearch(q.q ?? '')} />
        <TextInput label="Search" placeholder="Name, domain or industry" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={240} />
        <MemberSelect label="Owner" value={current.ownerId ?? null} onChange={(v) => set('ownerId', v)} />
        <AudienceFilter value={current.audience ?? null} onChange={(v) => set('audience', v)} />
        <ComputedSort sort={current.sort} order={current.order} onChange={sortBy} />
      </Group>
      {companies.isError && <ErrorPanel error={companies.error} />}
      <Table striped highlightOnHover aria-label="Companies">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Domain</Table.Th>
            <Table.Th>Industry</Table.Th>
            <Table.Th>Employees</Table.Th>
            <Table.Th>Contacts</Table.Th>
            <Table.Th>Owner</Table.Th>
            {custom.map((f) => <Table.Th key={f.key}>{f.label}</Table.Th>)}
            <Table.Th>Audiences</Table.Th>
            <Table.Th>Created</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((c) => (
            <Table.Tr key={c.id}>
              <Table.Td><Anchor component={Link} to={`/crm/companies/${c.id}`}>{companyName(c)}</Anchor></Table.Td>
              <Table.Td>{c.domain ?? '—'}</Table.Td>
              <Table.Td>{c.industry ?? '—'}</Table.Td>
              <Table.Td>{c.employees?.toLocaleString() ?? '—'}</Table.Td>
              <Table.Td>{c.contactIds.length}</Table.Td>
              <Table.Td miw={170}>
                <MemberSelect label={`Owner of ${companyName(c)}`} hideLabel size="xs" disabled={!canWrite} value={c.ownerId} onChange={(ownerId) => setOwner.mutate({ company: c, ownerId })} />
              </Table.Td>
              {custom.map((f) => <Table.Td key={f.key}>{customText(c.custom[f.key])}</Table.Td>)}
              <Table.Td>
                <AudienceBadges audiences={c.audiences} size="sm" />
              </Table.Td>
              <Table.Td><When at={c.createdAt} /></Table.Td>
            </Table.Tr>
          ))}
          {companies.isSuccess && rows.length === 0 && <Table.Tr><Table.Td colSpan={8 + custom.length}>No company matches.</Table.Td></Table.Tr>}
        </Table.Tbody>
      </Table>
      <LoadMore list={companies} />
      <Modal opened={creating} onClose={createModal.close} title="New company">
        <NewCompanyForm onDone={createModal.close} />
      </Modal>
    </>
  );
}

function NewCompanyForm({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const navigate = useNavigate();
  const [employees, setEmployees] = useState<number | string>('');
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Company>('/crm/companies', body),
    onSuccess: (company) => {
      void client.invalidateQueries({ queryKey: ['companies'] });
      onDone();
      navigate(`/crm/companies/${company.id}`);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body: Record<string, unknown> = { domain: form.get('domain') };
    for (const key of ['name', 'industry']) if (form.get(key)) body[key] = form.get(key);
    if (employees !== '') body.employees = Number(employees);
    create.mutate(body);
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        {create.isError && <ErrorPanel error={create.error} />}
        <TextInput label="Domain" name="domain" placeholder="acme.com" description="Found by its domain if it exists already." required data-autofocus />
        <TextInput label="Name" name="name" />
        <TextInput label="Industry" name="industry" />
        <NumberInput label="Employees" min={0} value={employees} onChange={setEmployees} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>Cancel</Button>
          <Button type="submit" loading={create.isPending}>Create company</Button>
        </Group>
      </Stack>
    </form>
  );
}
