import { Button, Card, Group, List, NumberInput, Stack, Table, TagsInput, Text, TextInput, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, messageOf } from '../api';
import { useSession } from '../session';
import { ErrorPanel, PageHeader } from '../ui';

interface IdentityRule {
  type: string;
  priority: number;
  limit: number;
  windowDays: number | null;
  blocked: string[];
  custom: boolean;
}

const RULES_KEY = ['identity', 'rules'];

export default function IdentityRules() {
  const { can } = useSession();
  const rules = useQuery({
    queryKey: RULES_KEY,
    queryFn: () => api.get<{ data: IdentityRule[]; alwaysBlocked: string[] }>('/identity/rules'),
  });
  const canWrite = can('identity:write');
  return (
    <>
      <PageHeader
        title="Identity rules"
        description="How identifiers join events into one profile: on a conflict the lowest-priority identifier (highest number) is dropped first; a profile holds at most the limit of each type."
      />
      <Stack gap="lg">
        <Card withBorder>
          {rules.isError && <ErrorPanel error={rules.error} />}
          <Table aria-label="Identity rules" verticalSpacing={6}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Identifier type</Table.Th><Table.Th>Priority</Table.Th><Table.Th>Limit</Table.Th><Table.Th>Window (days)</Table.Th><Table.Th>Blocked values</Table.Th><Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rules.data?.data.map((rule) => <RuleRow key={`${rule.type}:${rule.priority}:${rule.limit}:${rule.windowDays}:${rule.blocked.join('|')}`} rule={rule} canWrite={canWrite} />)}
            </Table.Tbody>
          </Table>
          <Text size="xs" c="dimmed" mt="sm">Changes apply to events processed from now on; earlier merges stay.</Text>
        </Card>
        <Group align="flex-start" grow>
          {canWrite && <NewRuleForm />}
          {rules.data && (
            <Card withBorder>
              <Title order={2} size="h4" mb="xs">Always blocked</Title>
              <Text size="sm" c="dimmed" mb="xs">Placeholders no real person shares, for every type:</Text>
              <List size="sm">{rules.data.alwaysBlocked.map((v) => <List.Item key={v}>{v === 'values made only of 0 and -' ? v : <code>{v}</code>}</List.Item>)}</List>
            </Card>
          )}
        </Group>
      </Stack>
    </>
  );
}

function useSaveRule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ type, ...body }: Omit<IdentityRule, 'custom'>) => api.put<IdentityRule>(`/identity/rules/${encodeURIComponent(type)}`, body),
    onSuccess: (saved) => {
      void client.invalidateQueries({ queryKey: RULES_KEY });
      notifications.show({ color: 'green', title: 'Rule saved', message: `${saved.type}: priority ${saved.priority}, limit ${saved.limit}.` });
    },
    onError: (error) => notifications.show({ color: 'red', title: 'Rule not saved', message: messageOf(error) }),
  });
}

function RuleRow({ rule, canWrite }: { rule: IdentityRule; canWrite: boolean }) {
  const client = useQueryClient();
  const [priority, setPriority] = useState<number | string>(rule.priority);
  const [limit, setLimit] = useState<number | string>(rule.limit);
  const [windowDays, setWindowDays] = useState<number | string>(rule.windowDays ?? '');
  const [blocked, setBlocked] = useState<string[]>(rule.blocked);
  const save = useSaveRule();
  const reset = useMutation({
    mutationFn: () => api.delete(`/identity/rules/${encodeURIComponent(rule.type)}`),
    onSuccess: () => void client.invalidateQueries({ queryKey: RULES_KEY }),
    onError: (error) => notifications.show({ color: 'red', title: 'Not reset', message: messageOf(error) }),
  });
  const changed = Number(priority) !== rule.priority || Number(limit) !== rule.limit || (windowDays === '' ? null : Number(windowDays)) !== rule.windowDays || blocked.join('\n') !== rule.blocked.join('\n');
  const t = rule.type;
  return (
    <Table.Tr>
      <Table.Td>
        <Group gap={6} wrap="nowrap">
          <Text size="sm" ff="monospace">{t}</Text>
          {!rule.custom && <Text size="xs" c="dimmed">default</Text>}
        </Group>
      </Table.Td>
      <Table.Td w={100}><NumberInput size="xs" aria-label={`Priority of ${t}`} min={1} max={100} allowDecimal={false} value={priority} onChange={setPriority} readOnly={!canWrite} /></Table.Td>
      <Table.Td w={100}><NumberInput size="xs" aria-label={`Limit of ${t}`} min={1} max={1000} allowDecimal={false} value={limit} onChange={setLimit} readOnly={!canWrite} /></Table.Td>
      <Table.Td w={130}><NumberInput size="xs" aria-label={`Window in days of ${t}`} placeholder="for ever" min={0} max={3650} value={windowDays} onChange={setWindowDays} readOnly={!canWrite} /></Table.Td>
      <Table.Td><TagsInput size="xs" aria-label={`Blocked values of ${t}`} placeholder={canWrite ? 'Type a value, Enter' : undefined} value={blocked} onChange={setBlocked} readOnly={!canWrite} clearable={canWrite} /></Table.Td>
      <Table.Td w={150}>
        {canWrite && (
          <Group gap={4} wrap="nowrap">
            <Button
              size="compact-xs"
              disabled={!changed || priority === '' || limit === ''}
              loading={save.isPending}
              aria-label={`Save rule of ${t}`}
              onClick={() => save.mutate({ type: t, priority: Number(priority), limit: Number(limit), windowDays: windowDays === '' || Number(windowDays) === 0 ? null : Number(windowDays), blocked })}
            >
              Save
            </Button>
            {rule.custom && <Button size="compact-xs" variant="subtle" loading={reset.isPending} aria-label={`Reset rule of ${t} to default`} onClick={() => reset.mutate()}>Reset</Button>}
          </Group>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function NewRuleForm() {
  const save = useSaveRule();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const windowDays = Number(data.get('windowDays') || 0);
    save.mutate(
      { type: String(data.get('type')), priority: Number(data.get('priority')), limit: Number(data.get('limit')), windowDays: windowDays || null, blocked: [] },
      { onSuccess: () => form.reset() },
    );
  };
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">Rule for another identifier type</Title>
      <form onSubmit={submit}>
        <Stack gap="xs">
          <TextInput label="Identifier type" name="type" required pattern="[a-z0-9_]{1,64}" description="Lowercase letters, digits and _, e.g. crm_id" />
          <Group grow>
            <NumberInput label="Priority" name="priority" required min={1} max={100} defaultValue={10} allowDecimal={false} />
            <NumberInput label="Limit" name="limit" required min={1} max={1000} defaultValue={5} allowDecimal={false} />
            <NumberInput label="Window (days)" name="windowDays" min={0} max={3650} placeholder="for ever" />
          </Group>
          <Button type="submit" loading={save.isPending} w="fit-content">Add rule</Button>
        </Stack>
      </form>
    </Card>
  );
}
