import { Select, Table, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from './api';
import type { FieldDefinition } from './crm';
import { InlineText } from './inline-edit';
import { useSession } from './session';

/** The custom fields a workspace defined on an object. */
export function useFields(object: 'contact' | 'company' | 'deal' | 'ticket') {
  const { can } = useSession();
  return useQuery({
    queryKey: ['fields', object],
    enabled: can('crm_settings:read'),
    queryFn: () => api.get<{ data: FieldDefinition[] }>(`/crm/fields/${object}`).then((r) => r.data),
  });
}

/** A custom value as text, for a table cell. */
export function customText(value: unknown): string {
  if (value === undefined || value === null || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object') {
    const v = value as { amount?: number; currency?: string };
    return v.amount !== undefined ? `${v.amount} ${v.currency ?? ''}`.trim() : JSON.stringify(value);
  }
  return String(value);
}

const TEXT_TYPES: Record<string, 'text' | 'number' | 'date' | 'email' | 'url' | 'tel'> = { text: 'text', number: 'number', date: 'date', email: 'email', url: 'url', phone: 'tel' };

/** Rows of an "About" table for the custom fields: the simple types edited in place, the others shown. */
export function CustomFieldRows({ fields, values, disabled, onSave }: {
  fields: FieldDefinition[]; values: Record<string, unknown>; disabled: boolean; onSave: (custom: Record<string, unknown>) => void;
}) {
  return (
    <>
      {fields.map((f) => {
        const value = values[f.key];
        let input;
        if (TEXT_TYPES[f.type]) {
          input = (
            <InlineText label={f.label} type={TEXT_TYPES[f.type]} value={value === undefined || value === null ? null : String(value)} disabled={disabled}
              onSave={(v) => onSave({ [f.key]: f.type === 'number' ? Number(v) : v })} />
          );
        } else if (f.type === 'select' || f.type === 'boolean') {
          const data = f.type === 'boolean' ? [{ value: 'true', label: 'Yes' }, { value: 'false', label: 'No' }] : (f.options ?? []).map((o) => ({ value: o.value, label: o.label ?? o.value }));
          input = (
            <Select aria-label={f.label} size="xs" disabled={disabled} clearable={!f.required} data={data} value={value === undefined || value === null ? null : String(value)}
              onChange={(v) => onSave({ [f.key]: f.type === 'boolean' ? (v === null ? null : v === 'true') : v })} />
          );
        } else {
          input = <Text size="sm">{customText(value)}</Text>;
        }
        return (
          <Table.Tr key={f.key}>
            <Table.Th fw={500}>{f.label}</Table.Th>
            <Table.Td>{input}</Table.Td>
          </Table.Tr>
        );
      })}
    </>
  );
}
