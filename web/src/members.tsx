import { Select } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from './api';
import { useSession } from './session';

export interface WorkspaceMember {
  id: string;
  email: string;
  name: string | null;
}

/** The workspace's members (GET /users), to name owners and assignees: a CRM record holds a user's id. */
export function useMembers() {
  const { can } = useSession();
  const members = useQuery({ queryKey: ['users'], enabled: can('users:read'), queryFn: () => api.get<{ data: WorkspaceMember[] }>('/users').then((r) => r.data) });
  const nameOf = (id: string | null | undefined) => {
    if (!id) return 'Unassigned';
    const m = members.data?.find((x) => x.id === id);
    return m ? m.name ?? m.email : id;
  };
  return { members: members.data ?? [], nameOf };
}

/** Pick a member (an owner, an assignee); the one chosen is kept as an option even when not a member any more. */
export function MemberSelect({ label, value, onChange, disabled, clearable = true, hideLabel = false, size }: {
  label: string; value: string | null; onChange: (id: string | null) => void; disabled?: boolean; clearable?: boolean; hideLabel?: boolean; size?: 'xs' | 'sm';
}) {
  const { members, nameOf } = useMembers();
  const data = members.map((m) => ({ value: m.id, label: m.name ?? m.email }));
  if (value && !data.some((d) => d.value === value)) data.push({ value, label: nameOf(value) });
  return (
    <Select
      label={hideLabel ? undefined : label}
      aria-label={hideLabel ? label : undefined}
      placeholder="Unassigned"
      size={size}
      clearable={clearable}
      disabled={disabled}
      value={value}
      onChange={onChange}
      data={data}
      comboboxProps={{ withinPortal: true }}
    />
  );
}
