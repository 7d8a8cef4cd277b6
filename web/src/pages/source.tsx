import { Anchor, Button, Card, Code, CopyButton, Group, Modal, Stack, Switch, Tabs, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api, messageOf } from '../api';
import { LiveDebugger } from '../debugger';
import { useSession } from '../session';
import { curlExample, installSnippet } from '../snippet';
import { ErrorPanel, PageHeader } from '../ui';
import type { Source } from './sources';

export default function SourcePage() {
  const { id = '' } = useParams();
  const { can } = useSession();
  const client = useQueryClient();
  const source = useQuery({ queryKey: ['sources', id], queryFn: () => api.get<Source>(`/sources/${id}`) });
  const [confirming, rotate] = useDisclosure(false);
  const saved = (next: Source) => {
    client.setQueryData(['sources', id], next);
    void client.invalidateQueries({ queryKey: ['sources'], exact: true });
  };
  const toggle = useMutation({
    mutationFn: (enabled: boolean) => api.patch<Source>(`/sources/${id}`, { enabled }),
    onSuccess: saved,
    onError: (error) => notifications.show({ color: 'red', title: 'Not saved', message: messageOf(error) }),
  });
  const rotation = useMutation({
    mutationFn: () => api.post<Source>(`/sources/${id}/rotate-write-key`),
    onSuccess: (next) => {
      saved(next);
      rotate.close();
      notifications.show({ color: 'green', title: 'Write key replaced', message: 'The old key no longer works: update your snippet.' });
    },
  });

  if (source.isError) return <ErrorPanel error={source.error} />;
  if (!source.data) return null;
  const s = source.data;
  const origin = window.location.origin;
  const canWrite = can('sources:write');

  return (
    <>
      <PageHeader
        title={s.name}
        description={<><Anchor component={Link} to="/sources" size="sm">Sources</Anchor> · {s.type} source</>}
        actions={
          <Switch
            label={s.enabled ? 'Enabled' : 'Disabled'}
            checked={s.enabled}
            disabled={!canWrite || toggle.isPending}
            onChange={(e) => toggle.mutate(e.currentTarget.checked)}
          />
        }
      />
      <Stack gap="lg">
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">Write key</Title>
          <Text size="sm" c="dimmed" mb="sm">Public by design: it can only send events to this source, never read anything.</Text>
          <Group gap="sm">
            <Code fz="sm" aria-label="Write key">{s.writeKey}</Code>
            <CopyButton value={s.writeKey}>
              {({ copied, copy }) => <Button size="xs" variant="default" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}
            </CopyButton>
            {canWrite && <Button size="xs" variant="subtle" color="red" onClick={rotate.open}>Rotate…</Button>}
          </Group>
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">Install</Title>
          <Tabs defaultValue="snippet">
            <Tabs.List>
              <Tabs.Tab value="snippet">Website (analytics.js)</Tabs.Tab>
              <Tabs.Tab value="curl">Server (HTTP)</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="snippet" pt="sm">
              <Text size="sm" mb="xs">Paste into the <Code>&lt;head&gt;</Code> of every page. It is Segment's snippet: every analytics.js call works.</Text>
              <CodeWithCopy label="Install snippet" code={installSnippet(origin, s.writeKey)} />
            </Tabs.Panel>
            <Tabs.Panel value="curl" pt="sm">
              <CodeWithCopy label="HTTP example" code={curlExample(origin, s.writeKey)} />
            </Tabs.Panel>
          </Tabs>
        </Card>
        {can('debugger:read') && <LiveDebugger sourceId={s.id} />}
      </Stack>
      <Modal opened={confirming} onClose={rotate.close} title="Rotate the write key?">
        <Stack>
          <Text size="sm">A new key replaces this one at once: pages and servers still using the old key will have their events refused until updated.</Text>
          {rotation.isError && <ErrorPanel error={rotation.error} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={rotate.close}>Cancel</Button>
            <Button color="red" loading={rotation.isPending} onClick={() => rotation.mutate()}>Rotate write key</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

function CodeWithCopy({ code, label }: { code: string; label: string }) {
  return (
    <Stack gap={6}>
      <Code block tabIndex={0} aria-label={label} style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all', maxHeight: 220, overflow: 'auto' }}>{code}</Code>
      <CopyButton value={code}>
        {({ copied, copy }) => <Button size="xs" variant="default" w="fit-content" onClick={copy}>{copied ? 'Copied' : `Copy ${label.toLowerCase()}`}</Button>}
      </CopyButton>
    </Stack>
  );
}
