import { Autocomplete, Loader } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api, query } from './api';

interface Hit {
  object: 'contact' | 'company' | 'deal' | 'ticket';
  id: string;
  title: string;
  subtitle: string | null;
}

// Where each kind of record opens.
const OPEN: Partial<Record<Hit['object'], (id: string) => string>> = {
  contact: (id) => `/crm/contacts/${id}`,
  company: (id) => `/crm/companies/${id}`,
  deal: (id) => `/crm/deals/${id}`,
  ticket: (id) => `/crm/tickets/${id}`,
};
const GROUP: Record<string, string> = { contact: 'Contacts', company: 'Companies', deal: 'Deals', ticket: 'Tickets' };

/** Full-text search across the CRM from the header: type, pick, open. */
export function CrmSearch() {
  const navigate = useNavigate();
  const [text, setText] = useState('');
  const [debounced] = useDebouncedValue(text.trim(), 200);
  const hits = useQuery({
    queryKey: ['crm-search', debounced],
    enabled: debounced.length >= 2,
    queryFn: () => api.get<{ data: Hit[] }>(`/crm/search${query({ q: debounced, limit: 15 })}`).then((r) => r.data.filter((h) => OPEN[h.object])),
    placeholderData: (previous) => previous,
  });
  const found = debounced.length >= 2 ? hits.data ?? [] : [];
  const groups = Object.entries(GROUP)
    .map(([object, group]) => ({ group, items: found.filter((h) => h.object === object).map((h) => ({ value: `${h.object}:${h.id}`, label: h.subtitle ? `${h.title} · ${h.subtitle}` : h.title })) }))
    .filter((g) => g.items.length > 0);
  return (
    <Autocomplete
      aria-label="Search contacts, companies, deals and tickets"
      placeholder="Search the CRM"
      size="xs"
      w={260}
      value={text}
      onChange={setText}
      data={groups}
      filter={({ options }) => options}
      rightSection={hits.isFetching ? <Loader size={12} /> : null}
      onOptionSubmit={(value) => {
        const [object, id] = value.split(':');
        const to = OPEN[object as Hit['object']]?.(id);
        setText('');
        if (to) navigate(to);
      }}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
