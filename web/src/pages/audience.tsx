import { BarChart, LineChart } from '@mantine/charts';
import { Anchor, Badge, Button, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api } from '../api';
import { useSession } from '../session';
import { ErrorPanel, Json, PageHeader, When } from '../ui';
import type { Audience } from './audiences';
import { profileName, type ProfileSummary } from './profiles';

export default function AudiencePage() {
  const { key = '' } = useParams();
  const { can } = useSession();
  const client = useQueryClient();
  const audience = useQuery({ queryKey: ['audiences', key], queryFn: () => api.get<Audience>(`/audiences/${key}`), refetchInterval: (q) => (q.state.data?.status === 'ready' ? false : 1_000) });
  const daily = useQuery({
    queryKey: ['audiences', key, 'daily'],
    enabled: audience.data?.status === 'ready',
    queryFn: () => api.get<{ data: { day: string; entered: number; exited: number; size: number }[] }>(`/audiences/${key}/daily?days=30`).then((r) => r.data),
  });
  const members = useQuery({
    queryKey: ['audiences', key, 'members'],
    enabled: audience.data?.status === 'ready',
    queryFn: () => api.get<{ data: { profileId: string; enteredAt: string }[] }>(`/audiences/${key}/members?limit=20`).then((r) => r.data),
  });
  const profiles = useQueries({ queries: (members.data ?? []).map((m) => ({ queryKey: ['profile', m.profileId], queryFn: () => api.get<ProfileSummary>(`/profiles/${m.profileId}`) })) });
  const recompute = useMutation({
    mutationFn: () => api.post(`/audiences/${key}/recompute`),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['audiences', key] });
      notifications.show({ message: 'Recomputing in full.' });
    },
  });
  if (audience.isError) return <ErrorPanel error={audience.error} />;
  if (!audience.data) return null;
  const a = audience.data;
  return (
    <>
      <PageHeader
        title={a.name}
        description={<><Anchor component={Link} to="/audiences" size="sm">Audiences</Anchor> · <Text span ff="monospace" size="sm">{a.key}</Text> · computed <When at={a.computedAt} /></>}
        actions={can('audiences:write') && <Button variant="default" loading={recompute.isPending} onClick={() => recompute.mutate()}>Recompute</Button>}
      />
      <SimpleGrid cols={{ base: 1, md: 3 }} mb="lg">
        <Card withBorder>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>Members</Text>
          <Text fz={28} fw={700} aria-label="Members">{a.size.toLocaleString()}</Text>
          <Badge variant="light" color={a.status === 'ready' ? 'green' : 'orange'}>{a.status}</Badge>
        </Card>
        <Card withBorder style={{ gridColumn: 'span 2' }}>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700} mb={4}>Condition</Text>
          <Json value={a.condition} />
        </Card>
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, md: 2 }} mb="lg">
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">Size, last 30 days</Title>
          <LineChart h={200} data={daily.data ?? []} dataKey="day" series={[{ name: 'size', label: 'Members', color: 'blue.8' }]} withDots={false} curveType="stepAfter" />
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">Entered and exited per day</Title>
          <BarChart h={200} data={daily.data ?? []} dataKey="day" series={[{ name: 'entered', label: 'Entered', color: 'green.8' }, { name: 'exited', label: 'Exited', color: 'red.8' }]} />
        </Card>
      </SimpleGrid>
      <Card withBorder>
        <Title order={2} size="h4" mb="sm">Members</Title>
        <Stack gap={4}>
          {(members.data ?? []).map((m, i) => (
            <Group key={m.profileId} justify="space-between">
              <Anchor component={Link} to={`/profiles/${m.profileId}`} size="sm">{profiles[i]?.data ? profileName(profiles[i].data!) : m.profileId}</Anchor>
              <Text size="xs" c="dimmed">entered <When at={m.enteredAt} /></Text>
            </Group>
          ))}
          {members.data?.length === 0 && <Text size="sm" c="dimmed">No members yet.</Text>}
        </Stack>
      </Card>
    </>
  );
}
