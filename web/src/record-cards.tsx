import { Anchor, Badge, Card, Group, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { ActivityList, LogActivity } from './activities';
import type { Deal } from './crm';
import { useSession } from './session';
import { money } from './ui';

/** The audiences a contact or company is in, as badges: in a list's row (`size="sm"`) and on its page. */
export function AudienceBadges({ audiences, size, mt }: { audiences: { id: string; name: string }[]; size?: 'sm'; mt?: 'sm' }) {
  return <Group gap={4} mt={mt}>{audiences.map((a) => <Badge key={a.id} size={size} variant="light" color="grape" tt="none">{a.name}</Badge>)}</Group>;
}

/** A contact's or company's deals: each linked to its page, with its amount and status. */
export function DealsCard({ deals, label }: { deals: Deal[] | undefined; label: string }) {
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="sm">Deals</Title>
      {deals?.length === 0 && <Text size="sm" c="dimmed">No deals.</Text>}
      <Stack gap={4} role="group" aria-label={label}>
        {deals?.map((d) => (
          <Group key={d.id} justify="space-between">
            <Anchor component={Link} to={`/crm/deals/${d.id}`} size="sm">{d.name}</Anchor>
            <Text size="sm">{money(d.amount, d.currency)} · {d.status}</Text>
          </Group>
        ))}
      </Stack>
    </Card>
  );
}

/**
 * Logging a call, note, email or meeting on a record (for roles that may), and the record's activities.
 * `alsoContacts`: contacts the logged activity is about too (a deal's).
 */
export function ActivityCards({ record, alsoContacts }: { record: Parameters<typeof ActivityList>[0]['record']; alsoContacts?: string[] }) {
  const { can } = useSession();
  return (
    <>
      {can('activities:write') && (
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">Log activity</Title>
          <LogActivity record={record} alsoContacts={alsoContacts} />
        </Card>
      )}
      <Card withBorder>
        <Title order={2} size="h4" mb="sm">Activities</Title>
        <ActivityList record={record} />
      </Card>
    </>
  );
}
