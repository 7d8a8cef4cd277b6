import { ActionIcon, Alert, Anchor, Button, Card, Checkbox, Grid, Group, NumberInput, SegmentedControl, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, messageOf } from '../api';
import { incomplete, keyFrom, newRow, toCondition, VALUE_OPS, type ConditionRow, type RowKind } from '../audience-condition';
import { useSession } from '../session';
import { ErrorPanel, PageHeader } from '../ui';
import type { Audience } from './audiences';
import { profileName, type ProfileSummary } from './profiles';

const KINDS: { value: RowKind; label: string }[] = [
  { value: 'trait', label: 'Trait' },
  { value: 'event', label: 'Performed event' },
  { value: 'computed_trait', label: 'Computed trait' },
  { value: 'audience', label: 'In audience' },
];

export default function AudienceBuilder() {
  const navigate = useNavigate();
  const client = useQueryClient();
  const { can } = useSession();
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [keyEdited, setKeyEdited] = useState(false);
  const [collection, setCollection] = useState<'users' | 'accounts'>('users');
  const [match, setMatch] = useState<'all' | 'any'>('all');
  const [rows, setRows] = useState<ConditionRow[]>([newRow()]);
  const computed = useQuery({ queryKey: ['computed-traits'], enabled: can('computed_traits:read'), queryFn: () => api.get<{ data: { key: string; name: string }[] }>('/computed-traits').then((r) => r.data) });
  const audiences = useQuery({ queryKey: ['audiences'], queryFn: () => api.get<{ data: Audience[] }>('/audiences').then((r) => r.data) });

  const problem = rows.map(incomplete).find(Boolean) ?? null;
  const condition = problem ? null : toCondition(match, rows);
  const [debounced] = useDebouncedValue(condition ? JSON.stringify({ collection, condition }) : null, 400);
  const preview = useQuery({
    queryKey: ['audience-preview', debounced],
    enabled: Boolean(debounced),
    queryFn: () => api.post<{ size: number; sample: string[] }>('/audiences/preview', JSON.parse(debounced!)),
    retry: false,
    placeholderData: (previous) => previous,
  });
  const samples = useQueries({
    queries: (preview.data?.sample ?? []).slice(0, 10).map((id) => ({ queryKey: ['profile', id], queryFn: () => api.get<ProfileSummary>(`/profiles/${id}`) })),
  });
  const create = useMutation({
    mutationFn: () => api.post<Audience>('/audiences', { key, name, collection, condition }),
    onSuccess: (audience) => {
      void client.invalidateQueries({ queryKey: ['audiences'] });
      navigate(`/audiences/${audience.key}`);
    },
  });
  const update = (id: number, change: Partial<ConditionRow>) => setRows((list) => list.map((r) => (r.id === id ? { ...r, ...change } : r)));

  return (
    <>
      <PageHeader title="New audience" description={<Anchor component={Link} to="/audiences" size="sm">Audiences</Anchor>} />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 8 }}>
          <Stack>
            <Card withBorder>
              <Group grow align="flex-start">
                <TextInput label="Name" required value={name} onChange={(e) => {
                  setName(e.currentTarget.value);
                  if (!keyEdited) setKey(keyFrom(e.currentTarget.value));
                }} />
                <TextInput label="Key" required description="snake_case, used by the APIs and destinations" value={key} onChange={(e) => {
                  setKey(e.currentTarget.value);
                  setKeyEdited(true);
                }} />
              </Group>
              <Group mt="sm">
                <SegmentedControl aria-label="Audience of" value={collection} onChange={(v) => setCollection(v as 'users' | 'accounts')} data={[{ value: 'users', label: 'People' }, { value: 'accounts', label: 'Accounts' }]} />
              </Group>
            </Card>
            <Card withBorder>
              <Group mb="sm" gap="xs">
                <Text fw={600}>Members meet</Text>
                <SegmentedControl size="xs" aria-label="Match" value={match} onChange={(v) => setMatch(v as 'all' | 'any')} data={[{ value: 'all', label: 'all' }, { value: 'any', label: 'any' }]} />
                <Text fw={600}>of these conditions</Text>
              </Group>
              <Stack gap="sm">
                {rows.map((row, index) => (
                  <Card key={row.id} withBorder padding="sm" bg="gray.0" role="group" aria-label={`Condition ${index + 1}`}>
                    <Group align="flex-end" gap="xs" wrap="wrap">
                      <Select label="Condition" w={170} allowDeselect={false} value={row.kind} data={KINDS} onChange={(v) => update(row.id, { kind: v as RowKind, subject: '', value: '' })} />
                      {row.kind === 'trait' && <TextInput label="Trait" w={160} placeholder="plan" value={row.subject} onChange={(e) => update(row.id, { subject: e.currentTarget.value })} />}
                      {row.kind === 'computed_trait' && (
                        <Select label="Computed trait" w={180} value={row.subject || null} data={(computed.data ?? []).map((c) => ({ value: c.key, label: c.name }))} onChange={(v) => update(row.id, { subject: v ?? '' })} />
                      )}
                      {row.kind === 'audience' && (
                        <Select label="Audience" w={200} value={row.subject || null} data={(audiences.data ?? []).map((a) => ({ value: a.key, label: a.name }))} onChange={(v) => update(row.id, { subject: v ?? '' })} />
                      )}
                      {(row.kind === 'trait' || row.kind === 'computed_trait') && (
                        <>
                          <Select label="Test" w={170} allowDeselect={false} value={row.op} data={VALUE_OPS} onChange={(v) => update(row.id, { op: v ?? 'eq' })} />
                          {!['exists', 'not_exists'].includes(row.op) && <TextInput label="Value" w={150} value={row.value} onChange={(e) => update(row.id, { value: e.currentTarget.value })} />}
                        </>
                      )}
                      {row.kind === 'event' && (
                        <>
                          <Select label="Type" w={100} allowDeselect={false} value={row.eventType} data={['track', 'page', 'screen']} onChange={(v) => update(row.id, { eventType: (v ?? 'track') as ConditionRow['eventType'] })} />
                          <TextInput label="Event name" w={170} placeholder={row.eventType === 'track' ? 'Order Completed' : 'any'} value={row.subject} onChange={(e) => update(row.id, { subject: e.currentTarget.value })} />
                          <Select label="How often" w={120} allowDeselect={false} value={row.countOp} data={[{ value: 'at_least', label: 'at least' }, { value: 'at_most', label: 'at most' }, { value: 'exactly', label: 'exactly' }]} onChange={(v) => update(row.id, { countOp: (v ?? 'at_least') as ConditionRow['countOp'] })} />
                          <NumberInput label="Times" w={80} min={0} value={row.count} onChange={(v) => update(row.id, { count: Number(v) || 0 })} />
                          <NumberInput label="In the last (days)" w={130} min={1} placeholder="ever" value={row.withinDays ?? ''} onChange={(v) => update(row.id, { withinDays: v === '' ? null : Number(v) })} />
                        </>
                      )}
                      <Checkbox label="Not" checked={row.negate} onChange={(e) => update(row.id, { negate: e.currentTarget.checked })} mb={8} />
                      {rows.length > 1 && <ActionIcon variant="subtle" color="red" mb={4} aria-label={`Remove condition ${index + 1}`} onClick={() => setRows((list) => list.filter((r) => r.id !== row.id))}>×</ActionIcon>}
                    </Group>
                  </Card>
                ))}
              </Stack>
              <Button variant="default" mt="sm" onClick={() => setRows((list) => [...list, newRow()])}>Add condition</Button>
            </Card>
            {create.isError && <ErrorPanel error={create.error} />}
            <Group>
              <Button onClick={() => create.mutate()} loading={create.isPending} disabled={!condition || !name.trim() || !key}>Create audience</Button>
            </Group>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 4 }}>
          <Card withBorder aria-label="Preview" role="region">
            <Title order={2} size="h4">Preview</Title>
            {problem && <Text size="sm" c="dimmed">{problem}</Text>}
            {preview.isError && !problem && <Alert color="red" mt="xs" role="alert">{messageOf(preview.error)}</Alert>}
            {preview.data && !problem && (
              <>
                <Text fz={32} fw={700} aria-live="polite" aria-label="Estimated size">{preview.data.size.toLocaleString()}</Text>
                <Text size="sm" c="dimmed" mb="xs">{collection === 'users' ? 'people' : 'accounts'} match now{preview.isFetching ? ' (updating…)' : ''}</Text>
                <Stack gap={4} aria-label="Sample members">
                  {samples.map((s, i) => s.data && (
                    <Anchor key={s.data.id ?? i} component={Link} to={`/profiles/${s.data.id}`} size="sm">{profileName(s.data)}</Anchor>
                  ))}
                </Stack>
              </>
            )}
          </Card>
        </Grid.Col>
      </Grid>
    </>
  );
}
