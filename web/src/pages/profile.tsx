import { Anchor, Badge, Button, Card, Grid, Group, Modal, Stack, Table, Text, Timeline, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api } from '../api';
import { useSession } from '../session';
import { IdentityGraph } from '../identity-graph';
import { RecordTimeline } from '../timeline';
import { ErrorPanel, PageHeader, When } from '../ui';
import { profileName, type Identifier, type ProfileSummary } from './profiles';

interface MergeEntry {
  id: number;
  kind: 'created' | 'merged' | 'split' | string;
  profileId?: string;
  otherProfileId: string | null;
  identifiers: Identifier[];
  rule: string | null;
  message: string | null;
  messageId: string | null;
  at: string;
}

interface Profile extends ProfileSummary {
  traitDetails: { name: string; value: unknown; updatedAt: string; sourceId: string | null; messageId: string | null }[];
  accounts: { id: string; identifiers?: Identifier[] }[];
}

interface Explanation {
  identifiers: (Identifier & { reason: { kind: string; at?: string; messageId?: string; linkedBy?: string; mergedAt?: string; fromProfileId?: string } })[];
  history: MergeEntry[];
}

const ids = (list: Identifier[]) => list.map((i) => `${i.type} "${i.value}"`).join(', ');

function mergeTitle(entry: MergeEntry): string {
  if (entry.kind === 'created') return `Created from ${ids(entry.identifiers)}`;
  if (entry.kind === 'merged') return `Merged in ${ids(entry.identifiers)}`;
  if (entry.kind === 'split') return `Split off ${ids(entry.identifiers)}`;
  return `${entry.kind}: ${ids(entry.identifiers)}`;
}

function reasonText(reason: Explanation['identifiers'][number]['reason']): string {
  if (reason.kind === 'merge') return reason.linkedBy ?? 'Came with a merged profile.';
  if (reason.kind === 'event') return 'Seen on an event';
  return reason.kind;
}

export default function ProfilePage() {
  const { id = '' } = useParams();
  const { session, can } = useSession();
  const client = useQueryClient();
  const profile = useQuery({ queryKey: ['profile', id], queryFn: () => api.get<Profile>(`/profiles/${id}`) });
  const explain = useQuery({ queryKey: ['profile', id, 'explain'], queryFn: () => api.get<Explanation>(`/profiles/${id}/explain`) });
  const external = profile.data?.identifiers.find((i) => i.type !== 'anonymous_id') ?? profile.data?.identifiers[0];
  const spaceTraits = (cls: 'audience' | 'computed_trait') =>
    fetch(`/v1/spaces/${session.workspace.id}/collections/${profile.data!.collection}/profiles/${encodeURIComponent(`${external!.type}:${external!.value}`)}/traits?class=${cls}&limit=200`, { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : { traits: {} }))
      .then((r: { traits: Record<string, unknown> }) => r.traits);
  const audiences = useQuery({ queryKey: ['profile', id, 'audiences'], enabled: Boolean(external) && can('profiles:read'), queryFn: () => spaceTraits('audience') });
  const computed = useQuery({ queryKey: ['profile', id, 'computed'], enabled: Boolean(external) && can('profiles:read'), queryFn: () => spaceTraits('computed_trait') });
  const [splitting, setSplitting] = useState<Identifier | null>(null);
  const split = useMutation({
    mutationFn: (identifier: Identifier) => api.post<{ newProfileId: string; movedEvents: number }>(`/profiles/${id}/split`, identifier),
    onSuccess: (result, identifier) => {
      setSplitting(null);
      void client.invalidateQueries({ queryKey: ['profile', id] });
      void client.invalidateQueries({ queryKey: ['timeline'] });
      notifications.show({
        color: 'green', title: 'Profile split',
        message: <>{identifier.type} "{identifier.value}" and {result.movedEvents} event(s) moved to <Anchor component={Link} to={`/profiles/${result.newProfileId}`}>a new profile</Anchor>.</>,
      });
    },
  });

  if (profile.isError) return <ErrorPanel error={profile.error} />;
  if (!profile.data) return null;
  const p = profile.data;
  const canSplit = can('profiles:write') && p.identifiers.length > 1;

  return (
    <>
      <PageHeader
        title={profileName(p)}
        description={<><Anchor component={Link} to="/profiles" size="sm">Profiles</Anchor> · {p.collection === 'users' ? 'person' : 'account'} · first seen <When at={p.createdAt} /></>}
        actions={can('contacts:read') && p.collection === 'users' && <Button component={Link} to={`/crm/contacts/${p.id}`} variant="default">Open as contact</Button>}
      />
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack gap="lg">
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Identities</Title>
              <Table aria-label="Identities" verticalSpacing={6}>
                <Table.Tbody>
                  {(explain.data?.identifiers ?? p.identifiers.map((i): Explanation['identifiers'][number] => ({ ...i, reason: { kind: '' } }))).map((i) => (
                    <Table.Tr key={`${i.type}:${i.value}`}>
                      <Table.Td>
                        <Text size="xs" c="dimmed">{i.type}</Text>
                        <Text size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>{i.value}</Text>
                        {i.reason.kind && <Text size="xs" c="dimmed">{reasonText(i.reason)} · <When at={i.reason.mergedAt ?? i.reason.at} /></Text>}
                      </Table.Td>
                      {canSplit && (
                        <Table.Td w={70}>
                          <Button size="compact-xs" variant="subtle" color="red" onClick={() => setSplitting({ type: i.type, value: i.value })} aria-label={`Split ${i.type} ${i.value}`}>Split</Button>
                        </Table.Td>
                      )}
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">How this profile came together</Title>
              {explain.isError && <ErrorPanel error={explain.error} />}
              <Timeline bulletSize={12} lineWidth={2} aria-label="Merge log">
                {[...(explain.data?.history ?? [])].reverse().map((entry) => (
                  <Timeline.Item key={entry.id} color={entry.kind === 'merged' ? 'orange.9' : entry.kind === 'split' ? 'red.9' : 'blue.8'} title={<Text size="sm" fw={600}>{mergeTitle(entry)}</Text>}>
                    {entry.message && <Text size="sm">{entry.message}</Text>}
                    <Text size="xs" c="dimmed">
                      {entry.rule && <>rule {entry.rule} · </>}<When at={entry.at} />
                    </Text>
                  </Timeline.Item>
                ))}
              </Timeline>
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Traits</Title>
              <Table aria-label="Traits" verticalSpacing={4}>
                <Table.Tbody>
                  {p.traitDetails.map((t) => (
                    <Table.Tr key={t.name}>
                      <Table.Th fw={500} w="40%">{t.name}</Table.Th>
                      <Table.Td style={{ wordBreak: 'break-word' }}>{typeof t.value === 'string' ? t.value : JSON.stringify(t.value)}</Table.Td>
                      <Table.Td><Text size="xs" c="dimmed"><When at={t.updatedAt} /></Text></Table.Td>
                    </Table.Tr>
                  ))}
                  {p.traitDetails.length === 0 && <Table.Tr><Table.Td>No traits yet.</Table.Td></Table.Tr>}
                </Table.Tbody>
              </Table>
            </Card>
            <Card withBorder>
              <Title order={2} size="h4" mb="sm">Audiences</Title>
              <Group gap={6}>
                {Object.entries(audiences.data ?? {}).filter(([, v]) => v !== false).map(([key]) => <Badge key={key} variant="light" color="grape" tt="none">{key}</Badge>)}
                {audiences.isSuccess && Object.values(audiences.data).filter((v) => v !== false).length === 0 && <Text size="sm" c="dimmed">In no audience.</Text>}
              </Group>
              <Title order={3} size="h5" mt="md" mb="xs">Computed traits</Title>
              <Table aria-label="Computed traits" verticalSpacing={4}>
                <Table.Tbody>
                  {Object.entries(computed.data ?? {}).map(([key, value]) => (
                    <Table.Tr key={key}><Table.Th fw={500}>{key}</Table.Th><Table.Td>{JSON.stringify(value)}</Table.Td></Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              {computed.isSuccess && Object.keys(computed.data).length === 0 && <Text size="sm" c="dimmed">No computed traits.</Text>}
            </Card>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          {explain.data && explain.data.identifiers.length > 0 && (
            <Card withBorder mb="lg">
              <Title order={2} size="h4" mb="sm">Identity graph</Title>
              <IdentityGraph identifiers={explain.data.identifiers} />
            </Card>
          )}
          <Card withBorder>
            <Title order={2} size="h4" mb="sm">Timeline</Title>
            {can(p.collection === 'users' ? 'contacts:read' : 'companies:read') ? <RecordTimeline object={p.collection === 'users' ? 'contacts' : 'companies'} id={p.id} /> : <Text size="sm" c="dimmed">Your role cannot read timelines.</Text>}
          </Card>
        </Grid.Col>
      </Grid>
      <Modal opened={splitting !== null} onClose={() => setSplitting(null)} title="Split this identifier off?">
        {splitting && (
          <Stack>
            <Text size="sm">
              {splitting.type} <b>{splitting.value}</b> moves to a new profile, with every event that carried it. Use this when two people were merged by mistake.
            </Text>
            {split.isError && <ErrorPanel error={split.error} />}
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setSplitting(null)}>Cancel</Button>
              <Button color="red" loading={split.isPending} onClick={() => split.mutate(splitting)}>Split off</Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
