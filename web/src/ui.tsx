import { Alert, Badge, Code, Group, Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { ApiError, messageOf } from './api';

/** A failed load, said plainly; a 403 names the missing permission. */
export function ErrorPanel({ error, title }: { error: unknown; title?: string }) {
  const forbidden = error instanceof ApiError && error.status === 403;
  return (
    <Alert color={forbidden ? 'yellow' : 'red'} title={title ?? (forbidden ? 'Not allowed' : 'Something went wrong')} role="alert">
      {messageOf(error)}
    </Alert>
  );
}

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <Group justify="space-between" align="flex-start" mb="lg" wrap="nowrap">
      <Stack gap={4}>
        <Title order={1} size="h2">{title}</Title>
        {description && <Text c="dimmed" size="sm">{description}</Text>}
      </Stack>
      {actions && <Group gap="sm">{actions}</Group>}
    </Group>
  );
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <Text span c="dimmed">never</Text>;
  const date = new Date(at);
  return <time dateTime={at} title={date.toISOString()}>{date.toLocaleString()}</time>;
}

export function Json({ value }: { value: unknown }) {
  return <Code block style={{ maxHeight: 320, overflow: 'auto' }}>{JSON.stringify(value, null, 2)}</Code>;
}

export function StatusBadge({ ok, yes, no }: { ok: boolean; yes: string; no: string }) {
  return <Badge color={ok ? 'green' : 'red'} variant="light">{ok ? yes : no}</Badge>;
}

export function money(amount: number | null | undefined, currency = 'USD'): string {
  if (amount === null || amount === undefined) return '—';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 0 }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}
