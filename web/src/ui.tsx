import { Alert, Badge, Button, Card, Code, Group, Modal, Stack, Text, Title } from '@mantine/core';
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
  return <Code block tabIndex={0} style={{ maxHeight: 320, overflow: 'auto' }}>{JSON.stringify(value, null, 2)}</Code>;
}

export function StatusBadge({ ok, yes, no }: { ok: boolean; yes: string; no: string }) {
  return <Badge color={ok ? 'green' : 'red'} variant="light">{ok ? yes : no}</Badge>;
}

/** One figure with its label, in a card: the overview's and a destination's health. */
export function Stat({ label, value, hint, color }: { label: string; value: string; hint?: string; color?: string }) {
  return (
    <Card withBorder padding="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>{label}</Text>
      <Text fz={28} fw={700} c={color} aria-label={label}>{value}</Text>
      {hint && <Text size="xs" c="dimmed">{hint}</Text>}
    </Card>
  );
}

/** A step that cannot be undone, asked first: what it does, why it failed if it did, Cancel or the step. */
export function Confirm({ opened, title, action, pending, error, onConfirm, onClose, children }: {
  opened: boolean;
  title: string;
  action: string;
  pending: boolean;
  error: unknown;
  onConfirm: () => void;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <Modal opened={opened} onClose={onClose} title={title}>
      <Stack>
        <Text size="sm">{children}</Text>
        {error ? <ErrorPanel error={error} /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>Cancel</Button>
          <Button color="red" loading={pending} onClick={onConfirm}>{action}</Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function money(amount: number | null | undefined, currency = 'USD'): string {
  if (amount === null || amount === undefined) return '—';
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 0 }).format(amount);
  } catch {
    return `${amount} ${currency}`;
  }
}

/** The next page of a cursor-paged list, while there is one. */
export function LoadMore({ list }: { list: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage(): unknown } }) {
  if (!list.hasNextPage) return null;
  return (
    <Group justify="center" mt="md">
      <Button variant="default" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>Load more</Button>
    </Group>
  );
}
