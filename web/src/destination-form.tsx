import { Button, Fieldset, Group, MultiSelect, NumberInput, PasswordInput, SegmentedControl, Select, Stack, Switch, TagsInput, Text, TextInput } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api } from './api';
import { useSession } from './session';
import { ErrorPanel } from './ui';

export interface Destination {
  id: string;
  name: string;
  type: 'webhook' | 'segment' | 'audience_sync';
  enabled: boolean;
  settings: Record<string, unknown>;
  filter?: { types?: string[]; events?: string[]; where?: unknown[]; audiences?: string[] };
  consent?: string[];
  rateLimit?: number;
  retry?: Record<string, number>;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

const EVENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'];
const TYPE_LABELS = [{ value: 'webhook', label: 'Webhook' }, { value: 'segment', label: 'Segment-compatible' }];

/** Where a destination sends: its URL or endpoint. */
export const targetOf = (d: Destination) => String(d.settings.url ?? d.settings.endpoint ?? '');

/**
 * Create (POST body) or change (PATCH body) a webhook or Segment-compatible destination. On a change,
 * settings are merged by the API, so an untouched secret or write key is simply not sent.
 */
export function DestinationForm({ destination, pending, error, onSubmit, onCancel }: {
  destination?: Destination;
  pending: boolean;
  error: unknown;
  onSubmit: (body: Record<string, unknown>) => void;
  onCancel?: () => void;
}) {
  const { can } = useSession();
  const editing = destination !== undefined;
  const [type, setType] = useState<string>(destination?.type ?? 'webhook');
  const [mode, setMode] = useState<string | null>(String(destination?.settings.mode ?? 'batch'));
  const [enabled, setEnabled] = useState(destination?.enabled ?? true);
  const [types, setTypes] = useState<string[]>(destination?.filter?.types ?? []);
  const [events, setEvents] = useState<string[]>(destination?.filter?.events ?? []);
  const [consent, setConsent] = useState<string[]>(destination?.consent ?? []);
  const [removeSecret, setRemoveSecret] = useState(false);
  const categories = useQuery({
    queryKey: ['privacy', 'consent-categories'], enabled: can('privacy:read'),
    queryFn: () => api.get<{ data: { name: string }[] }>('/privacy/consent-categories').then((r) => r.data),
  });
  const hasSecret = destination?.settings.secret !== undefined;

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const text = (name: string) => String(data.get(name) ?? '').trim();
    const settings: Record<string, unknown> = {};
    if (type === 'webhook') {
      settings.url = text('url');
      settings.mode = mode ?? 'batch';
      if (text('secret')) settings.secret = text('secret');
      else if (editing && removeSecret) settings.secret = null;
    } else {
      settings.endpoint = text('endpoint');
      if (text('writeKey')) settings.writeKey = text('writeKey');
    }
    // Property tests and audiences set through the API are kept as they are.
    const filter: Record<string, unknown> = { ...destination?.filter };
    delete filter.types;
    delete filter.events;
    if (types.length) filter.types = types;
    if (events.length) filter.events = events;
    // Delays set through the API are kept; the two fields here replace their parts.
    const retry: Record<string, number> = { ...destination?.retry };
    delete retry.maxAgeMs;
    delete retry.minAttempts;
    if (text('maxAgeMinutes')) retry.maxAgeMs = Number(text('maxAgeMinutes')) * 60_000;
    if (text('minAttempts')) retry.minAttempts = Number(text('minAttempts'));
    const body: Record<string, unknown> = { name: text('name'), enabled, settings, consent };
    if (editing) Object.assign(body, { filter, retry });
    else {
      body.type = type;
      if (Object.keys(filter).length) body.filter = filter;
      if (Object.keys(retry).length) body.retry = retry;
    }
    onSubmit(body);
  };

  return (
    <form onSubmit={submit}>
      <Stack gap="sm">
        <TextInput label="Name" name="name" required defaultValue={destination?.name} data-autofocus placeholder="Warehouse webhook" />
        {!editing && (
          <Stack gap={4}>
            <Text size="sm" fw={500} id="destination-type-label">Type</Text>
            <SegmentedControl aria-labelledby="destination-type-label" value={type} onChange={setType} data={TYPE_LABELS} w="fit-content" />
          </Stack>
        )}
        {type === 'webhook' ? (
          <>
            <TextInput label="URL" name="url" type="url" required defaultValue={String(destination?.settings.url ?? '')} placeholder="https://example.com/rapport" />
            <PasswordInput
              label="Signing secret"
              name="secret"
              minLength={16}
              description={hasSecret ? 'A secret is set: leave empty to keep it.' : 'Optional, at least 16 characters: each request is signed with HMAC-SHA256 in X-Rapport-Signature.'}
            />
            {hasSecret && <Switch size="xs" label="Remove the signing secret" checked={removeSecret} onChange={(e) => setRemoveSecret(e.currentTarget.checked)} />}
            <Select label="Sending" allowDeselect={false} value={mode} onChange={setMode} data={[{ value: 'batch', label: 'Batches of events' }, { value: 'single', label: 'One request per event' }]} />
          </>
        ) : (
          <>
            <TextInput label="Endpoint" name="endpoint" type="url" required defaultValue={String(destination?.settings.endpoint ?? '')} description="Base URL of a Segment-compatible API; /v1/batch is appended." />
            <PasswordInput label="Write key" name="writeKey" required={!editing} description={editing ? `Set (${String(destination?.settings.writeKey ?? '')}): leave empty to keep it.` : undefined} />
          </>
        )}
        <Fieldset legend="Which events" variant="filled" p="sm">
          <Stack gap="xs">
            <MultiSelect label="Event types" placeholder={types.length ? undefined : 'Every type'} data={EVENT_TYPES} value={types} onChange={setTypes} clearable />
            <TagsInput label="Event names" placeholder={events.length ? undefined : 'Every event (type a name, Enter)'} value={events} onChange={setEvents} clearable />
            <TagsInput label="Consent required" description="Categories that must be granted for an event to be sent." placeholder={consent.length ? undefined : 'None'} data={categories.data?.map((c) => c.name) ?? []} value={consent} onChange={setConsent} clearable />
            {(destination?.filter?.where?.length ?? 0) > 0 && <Text size="xs" c="dimmed">Property tests set through the API are kept.</Text>}
          </Stack>
        </Fieldset>
        <Fieldset legend="Retries" variant="filled" p="sm">
          <Text size="xs" c="dimmed" mb="xs">Network errors, timeouts, 429 and 5xx answers are retried with backoff; other 4xx answers are dead-lettered at once.</Text>
          <Group grow>
            <NumberInput label="Give up after (minutes)" name="maxAgeMinutes" min={1} max={10080} allowDecimal={false} placeholder="240" defaultValue={destination?.retry?.maxAgeMs ? Math.round(destination.retry.maxAgeMs / 60_000) : ''} />
            <NumberInput label="Attempts at least" name="minAttempts" min={1} max={100} allowDecimal={false} placeholder="3" defaultValue={destination?.retry?.minAttempts ?? ''} />
          </Group>
        </Fieldset>
        <Switch label="Enabled" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        {error ? <ErrorPanel error={error} title="Not saved" /> : null}
        <Group justify="flex-end">
          {onCancel && <Button variant="default" onClick={onCancel}>Cancel</Button>}
          <Button type="submit" loading={pending}>{editing ? 'Save destination' : 'Create destination'}</Button>
        </Group>
      </Stack>
    </form>
  );
}
