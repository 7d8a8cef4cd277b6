import { Badge, Button, Group, Stack, Text, Timeline, UnstyledButton } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, query } from './api';
import { ErrorPanel, Json, When } from './ui';

export interface TimelineItem {
  kind: string;
  at: string;
  type: string | null;
  event: string | null;
  messageId: string | null;
  properties: Record<string, unknown> | null;
}

const KIND_COLOR: Record<string, string> = { web: 'blue', track: 'violet', identify: 'teal', merge: 'orange', audience: 'grape', activity: 'green', crm: 'cyan' };

function title(item: TimelineItem): string {
  if (item.kind === 'web') return `Viewed ${item.event ?? (item.properties?.path as string | undefined) ?? 'a page'}`;
  if (item.kind === 'merge') return `Identity: ${item.event ?? 'change'}`;
  if (item.kind === 'identify') return 'Identified';
  return item.event ?? item.type ?? item.kind;
}

/** Everything that happened to a person or account, newest first: web visits, tracks, CRM work, audiences, merges. */
export function RecordTimeline({ object, id }: { object: 'contacts' | 'companies'; id: string }) {
  const [open, setOpen] = useState<number | null>(null);
  const timeline = useInfiniteQuery({
    queryKey: ['timeline', object, id],
    queryFn: ({ pageParam }) => api.get<{ data: TimelineItem[]; nextCursor: string | null }>(`/crm/${object}/${id}/timeline${query({ limit: 50, cursor: pageParam })}`),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  if (timeline.isError) return <ErrorPanel error={timeline.error} />;
  const items = timeline.data?.pages.flatMap((p) => p.data) ?? [];
  if (timeline.isSuccess && items.length === 0) return <Text c="dimmed" size="sm">Nothing has happened yet.</Text>;
  return (
    <Stack>
      <Timeline bulletSize={14} lineWidth={2} aria-label="Timeline">
        {items.map((item, index) => (
          <Timeline.Item
            key={`${item.at}-${item.messageId ?? index}-${index}`}
            color={KIND_COLOR[item.kind] ?? 'gray.8'}
            title={
              <Group gap="xs">
                <UnstyledButton fw={600} size="sm" onClick={() => setOpen(open === index ? null : index)} aria-expanded={open === index}>{title(item)}</UnstyledButton>
                <Badge size="xs" variant="light" color={KIND_COLOR[item.kind] ?? 'gray'}>{item.kind}</Badge>
              </Group>
            }
          >
            <Text size="xs" c="dimmed"><When at={item.at} /></Text>
            {open === index && <Json value={item.properties} />}
          </Timeline.Item>
        ))}
      </Timeline>
      {timeline.hasNextPage && (
        <Button variant="default" w="fit-content" loading={timeline.isFetchingNextPage} onClick={() => void timeline.fetchNextPage()}>Older</Button>
      )}
    </Stack>
  );
}
