import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api } from './api';
import { useSession } from './session';

/**
 * A CRM list's query lives in the address, so a filtered list can be bookmarked, shared and saved as a view:
 * the current values of `keys`, the search box (debounced into `q`), `set` to change one value and `sortBy`
 * to change the sort; either leaves the saved view the list came from.
 */
export function useListQuery(keys: readonly string[]) {
  const [params, setParams] = useSearchParams();
  const current = Object.fromEntries(keys.map((k) => [k, params.get(k) ?? undefined]).filter(([, v]) => v)) as Record<string, string>;
  const [search, setSearch] = useState(current.q ?? '');
  const [debounced] = useDebouncedValue(search, 250);
  const change = (values: Record<string, string | null | undefined>) => setParams((p) => {
    for (const [key, value] of Object.entries(values)) {
      if (value) p.set(key, value);
      else p.delete(key);
    }
    p.delete('view');
    return p;
  }, { replace: true });
  const set = (key: string, value: string | null | undefined) => change({ [key]: value });
  useEffect(() => {
    if ((debounced || undefined) !== current.q) set('q', debounced);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);
  return { current, search, setSearch, set, sortBy: (sort: string, order: string) => change({ sort, order }) };
}

/** The audience filter of a list, for roles that read audiences. */
export function AudienceFilter({ value, onChange }: { value: string | null; onChange(value: string | null): void }) {
  const { can } = useSession();
  const audiences = useQuery({
    queryKey: ['audiences'],
    enabled: can('audiences:read'),
    queryFn: () => api.get<{ data: { key: string; name: string }[] }>('/audiences').then((r) => r.data),
  });
  if (!can('audiences:read')) return null;
  return (
    <Select
      label="Audience"
      placeholder="Any"
      clearable
      value={value}
      onChange={onChange}
      data={(audiences.data ?? []).map((a) => ({ value: a.key, label: a.name }))}
      w={180}
    />
  );
}

/** The sort of a list: by creation, or by any computed trait or score, either way. */
export function ComputedSort({ sort, order, onChange }: { sort?: string; order?: string; onChange(sort: string, order: string): void }) {
  const { can } = useSession();
  const computed = useQuery({
    queryKey: ['computed-traits'],
    enabled: can('computed_traits:read'),
    queryFn: () => api.get<{ data: { key: string; name: string }[] }>('/computed-traits').then((r) => r.data),
  });
  return (
    <Select
      label="Sort"
      allowDeselect={false}
      value={sort ? `${sort}|${order ?? 'desc'}` : 'createdAt|desc'}
      onChange={(v) => {
        const [by, direction] = (v ?? 'createdAt|desc').split('|');
        onChange(by, direction);
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
  );
}
