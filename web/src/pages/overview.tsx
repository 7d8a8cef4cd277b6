import { Anchor, Card, SimpleGrid, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { useSession } from '../session';
import { PageHeader } from '../ui';

export default function Overview() {
  const { session } = useSession();
  return (
    <>
      <PageHeader title="Overview" description={`Workspace ${session.workspace.name}`} />
      <SimpleGrid cols={{ base: 1, md: 3 }}>
        <Card withBorder>
          <Title order={2} size="h4">Collect</Title>
          <Text size="sm" c="dimmed">Install the snippet on your site and watch events arrive.</Text>
          <Anchor component={Link} to="/sources">Sources</Anchor>
        </Card>
      </SimpleGrid>
    </>
  );
}
