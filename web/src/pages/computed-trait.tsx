import { ActionIcon, Anchor, Button, Card, Group, NumberInput, SegmentedControl, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { api } from '../api';
import { keyFrom, VALUE_OPS } from '../audience-condition';
import {
  AGGREGATE_KINDS, EVENT_TYPES, fromDefinition, newForm, newRule, newWhere, toDefinition,
  type RuleRow, type TraitForm, type WhereRow,
} from '../computed-trait-form';
import { useSession } from '../session';
import { Confirm, ErrorPanel, PageHeader } from '../ui';
import type { ComputedTrait } from './computed-traits';

const UNITS = [{ value: 'minutes', label: 'minutes' }, { value: 'hours', label: 'hours' }, { value: 'days', label: 'days' }];
const needsValue = (op: string) => !['exists', 'not_exists'].includes(op);

/** Creates (/computed-traits/new, ?kind=score for a score) or changes (/computed-traits/:key) a computed trait or score. */
export default function ComputedTraitPage() {
  const { key: existingKey } = useParams();
  const [search] = useSearchParams();
  const saved = useQuery({
    queryKey: ['computed-trait', existingKey], enabled: Boolean(existingKey),
    queryFn: () => api.get<ComputedTrait>(`/computed-traits/${existingKey}`),
  });
  if (existingKey && !saved.data) {
    return saved.isError ? <ErrorPanel error={saved.error} /> : <Text c="dimmed" aria-busy="true">Loading…</Text>;
  }
  return <TraitEditor key={existingKey ?? search.get('kind') ?? 'new'} saved={saved.data ?? null} initial={saved.data ? fromDefinition(saved.data) : newForm(search.get('kind') === 'score' ? 'score' : 'count')} />;
}

function TraitEditor({ saved, initial }: { saved: ComputedTrait | null; initial: TraitForm }) {
  const navigate = useNavigate();
  const client = useQueryClient();
  const { can } = useSession();
  const [form, setForm] = useState(initial);
  const [keyEdited, setKeyEdited] = useState(Boolean(saved));
  const [deleting, setDeleting] = useState(false);
  const set = (change: Partial<TraitForm>) => setForm((f) => ({ ...f, ...change }));
  const setWhere = (id: number, change: Partial<WhereRow>) => set({ where: form.where.map((w) => (w.id === id ? { ...w, ...change } : w)) });
  const setRule = (id: number, change: Partial<RuleRow>) => set({ rules: form.rules.map((r) => (r.id === id ? { ...r, ...change } : r)) });
  const score = form.kind === 'score';
  const noun = score ? 'score' : 'computed trait';
  const writable = can('computed_traits:write');

  const save = useMutation({
    mutationFn: () => {
      const definition = toDefinition(form);
      if (!saved) return api.post<ComputedTrait>('/computed-traits', definition);
      const { key: _key, ...change } = definition;
      return api.put<ComputedTrait>(`/computed-traits/${saved.key}`, change);
    },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['computed-traits'] });
      void client.invalidateQueries({ queryKey: ['computed-trait'] });
      navigate('/computed-traits');
    },
  });
  const remove = useMutation({
    mutationFn: () => api.delete(`/computed-traits/${saved!.key}`),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['computed-traits'] });
      navigate('/computed-traits');
    },
  });

  return (
    <>
      <PageHeader
        title={saved ? saved.name : score ? 'New score' : 'New computed trait'}
        description={<Anchor component={Link} to="/computed-traits" size="sm">Computed traits and scores</Anchor>}
        actions={saved && writable && <Button color="red" variant="light" onClick={() => setDeleting(true)}>Delete</Button>}
      />
      <form onSubmit={(e) => { e.preventDefault(); save.mutate(); }} aria-label={saved ? `Change ${noun}` : `New ${noun}`}>
        <Stack maw={900}>
          <Card withBorder>
            <Group grow align="flex-start">
              <TextInput label="Name" required value={form.name} onChange={(e) => {
                const name = e.currentTarget.value;
                set({ name, ...(keyEdited ? {} : { key: keyFrom(name) }) });
              }} />
              <TextInput label="Key" required disabled={Boolean(saved)} description="snake_case, the trait's name on profiles and in audiences" value={form.key} onChange={(e) => {
                set({ key: e.currentTarget.value });
                setKeyEdited(true);
              }} />
            </Group>
            <Group mt="sm" align="flex-end">
              <SegmentedControl aria-label="Computed for" disabled={Boolean(saved)} value={form.collection} onChange={(v) => set({ collection: v as TraitForm['collection'] })} data={[{ value: 'users', label: 'People' }, { value: 'accounts', label: 'Accounts' }]} />
              {!score && <Select label="Kind" w={260} allowDeselect={false} value={form.kind} data={AGGREGATE_KINDS} onChange={(v) => set({ kind: (v ?? 'count') as TraitForm['kind'] })} />}
            </Group>
          </Card>

          {!score && (
            <Card withBorder role="group" aria-label="Events">
              <Title order={2} size="h4" mb="xs">Events</Title>
              <Group align="flex-end" gap="xs">
                <Select label="Event type" w={120} allowDeselect={false} value={form.eventType} data={EVENT_TYPES} onChange={(v) => set({ eventType: (v ?? 'track') as TraitForm['eventType'] })} />
                <TextInput label="Event name" w={220} placeholder={form.eventType === 'track' ? 'Order Completed' : 'any'} value={form.eventName} onChange={(e) => set({ eventName: e.currentTarget.value })} />
                {form.kind !== 'count' && <TextInput label="Property" w={200} placeholder="total" description="dots descend into objects" value={form.property} onChange={(e) => set({ property: e.currentTarget.value })} />}
              </Group>
              <Text size="sm" fw={600} mt="md">Only events whose properties meet all of</Text>
              <Stack gap="xs" mt={4}>
                {form.where.map((w, i) => (
                  <Group key={w.id} align="flex-end" gap="xs" role="group" aria-label={`Property condition ${i + 1}`}>
                    <TextInput label="Event property" w={180} value={w.property} onChange={(e) => setWhere(w.id, { property: e.currentTarget.value })} />
                    <Select label="Test" w={170} allowDeselect={false} value={w.op} data={VALUE_OPS} onChange={(v) => setWhere(w.id, { op: v ?? 'eq' })} />
                    {needsValue(w.op) && <TextInput label="Value" w={150} value={w.value} onChange={(e) => setWhere(w.id, { value: e.currentTarget.value })} />}
                    <ActionIcon variant="subtle" color="red" mb={4} aria-label={`Remove property condition ${i + 1}`} onClick={() => set({ where: form.where.filter((x) => x.id !== w.id) })}>×</ActionIcon>
                  </Group>
                ))}
                {form.where.length === 0 && <Text size="sm" c="dimmed">No property conditions: every such event counts.</Text>}
              </Stack>
              <Button variant="default" size="xs" mt="sm" onClick={() => set({ where: [...form.where, newWhere()] })}>Add property condition</Button>
            </Card>
          )}

          {score && (
            <Card withBorder role="group" aria-label="Rules">
              <Title order={2} size="h4" mb="xs">Rules</Title>
              <Text size="sm" c="dimmed" mb="xs">Points for each matching event, and once for each trait condition the profile meets. The score is their sum.</Text>
              <Stack gap="xs">
                {form.rules.map((r, i) => (
                  <Group key={r.id} align="flex-end" gap="xs" role="group" aria-label={`Rule ${i + 1}`}>
                    <Select label="Points for" w={130} allowDeselect={false} value={r.on} data={[{ value: 'event', label: 'each event' }, { value: 'trait', label: 'a trait' }]} onChange={(v) => setRule(r.id, { on: (v ?? 'event') as RuleRow['on'] })} />
                    {r.on === 'event' ? (
                      <>
                        <Select label="Event type" w={110} allowDeselect={false} value={r.eventType} data={EVENT_TYPES} onChange={(v) => setRule(r.id, { eventType: (v ?? 'track') as RuleRow['eventType'] })} />
                        <TextInput label="Event name" w={190} value={r.eventName} onChange={(e) => setRule(r.id, { eventName: e.currentTarget.value })} />
                      </>
                    ) : (
                      <>
                        <TextInput label="Trait" w={140} value={r.trait} onChange={(e) => setRule(r.id, { trait: e.currentTarget.value })} />
                        <Select label="Test" w={160} allowDeselect={false} value={r.op} data={VALUE_OPS} onChange={(v) => setRule(r.id, { op: v ?? 'eq' })} />
                        {needsValue(r.op) && <TextInput label="Value" w={120} value={r.value} onChange={(e) => setRule(r.id, { value: e.currentTarget.value })} />}
                      </>
                    )}
                    <NumberInput label="Points" w={90} min={-10_000} max={10_000} value={r.points} onChange={(v) => setRule(r.id, { points: Number(v) || 0 })} />
                    {form.rules.length > 1 && <ActionIcon variant="subtle" color="red" mb={4} aria-label={`Remove rule ${i + 1}`} onClick={() => set({ rules: form.rules.filter((x) => x.id !== r.id) })}>×</ActionIcon>}
                  </Group>
                ))}
              </Stack>
              <Button variant="default" size="xs" mt="sm" onClick={() => set({ rules: [...form.rules, newRule()] })}>Add rule</Button>
              <NumberInput mt="md" w={260} label="Half-life of event points (days)" description="Empty: points never decay" min={0} value={form.halfLifeDays ?? ''} onChange={(v) => set({ halfLifeDays: v === '' ? null : Number(v) })} />
            </Card>
          )}

          <Card withBorder role="group" aria-label="Window">
            <Title order={2} size="h4" mb="xs">Window</Title>
            <Group align="flex-end" gap="xs">
              <SegmentedControl aria-label="Over" value={form.windowLast ? 'last' : 'all'} onChange={(v) => set({ windowLast: v === 'last' ? form.windowLast ?? 30 : null })} data={[{ value: 'all', label: 'All time' }, { value: 'last', label: 'The last…' }]} />
              {form.windowLast !== null && (
                <>
                  <NumberInput label="Last" w={100} min={1} max={100_000} value={form.windowLast} onChange={(v) => set({ windowLast: Number(v) || 1 })} />
                  <Select label="Unit" w={120} allowDeselect={false} value={form.windowUnit} data={UNITS} onChange={(v) => set({ windowUnit: (v ?? 'days') as TraitForm['windowUnit'] })} />
                </>
              )}
            </Group>
          </Card>

          {save.isError && <ErrorPanel error={save.error} title={`The ${noun} was not saved`} />}
          {writable && (
            <Group>
              <Button type="submit" loading={save.isPending} disabled={!form.name.trim() || !form.key}>{saved ? 'Save changes' : `Create ${noun}`}</Button>
              {saved && <Text size="sm" c="dimmed">A change recomputes it for every profile.</Text>}
            </Group>
          )}
        </Stack>
      </form>
      <Confirm
        opened={deleting} title={`Delete ${saved?.name ?? ''}?`} action="Delete" pending={remove.isPending} error={remove.error}
        onConfirm={() => remove.mutate()} onClose={() => { setDeleting(false); remove.reset(); }}
      >
        Its values are removed from every profile. An audience that uses it must be changed first.
      </Confirm>
    </>
  );
}
