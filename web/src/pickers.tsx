import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, query } from './api';
import { companyName, contactName, type Company, type Contact } from './crm';

/** Pick a contact: search by name or email (full-text, on the server). */
export function ContactPicker({ value, onChange, label = 'Contact', exclude = [] }: { value: string | null; onChange: (id: string | null) => void; label?: string; exclude?: string[] }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 200);
  const contacts = useQuery({
    queryKey: ['contacts', 'picker', debounced],
    queryFn: () => api.get<{ data: Contact[] }>(`/crm/contacts${query({ q: debounced || undefined, limit: 20 })}`).then((r) => r.data),
  });
  return (
    <Select
      label={label}
      placeholder="Search by name or email"
      searchable
      clearable
      searchValue={search}
      onSearchChange={setSearch}
      value={value}
      onChange={onChange}
      filter={({ options }) => options}
      data={(contacts.data ?? []).filter((c) => !exclude.includes(c.id)).map((c) => ({ value: c.id, label: `${contactName(c)}${c.email && c.name ? ` (${c.email})` : ''}` }))}
      nothingFoundMessage={contacts.isFetching ? 'Searching…' : 'No contact'}
    />
  );
}

/** Pick a company, or clear it: search by name or domain. `label` names the one chosen before its page of results arrives. */
export function CompanyPicker({ value, label, disabled, onChange }: { value: string | null; label?: string; disabled: boolean; onChange: (id: string | null) => void }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 200);
  const companies = useQuery({
    queryKey: ['companies', 'picker', debounced],
    enabled: !disabled,
    queryFn: () => api.get<{ data: Company[] }>(`/crm/companies${query({ q: debounced || undefined, limit: 20 })}`).then((r) => r.data),
  });
  const data = (companies.data ?? []).map((c) => ({ value: c.id, label: companyName(c) }));
  if (value && !data.some((o) => o.value === value)) data.push({ value, label: label ?? value });
  return (
    <Select
      aria-label="Company"
      size="xs"
      placeholder="No company"
      searchable
      clearable
      disabled={disabled}
      onSearchChange={setSearch}
      value={value}
      onChange={(next) => next !== value && onChange(next)}
      filter={({ options }) => options}
      data={data}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
