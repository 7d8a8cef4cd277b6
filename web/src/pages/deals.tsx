import {
  DndContext, KeyboardSensor, PointerSensor, useDraggable, useDroppable, useSensor, useSensors, type DragEndEvent,
} from '@dnd-kit/core';
import { ActionIcon, Badge, Box, Button, Card, Drawer, Group, Menu, Modal, NumberInput, ScrollArea, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent, type KeyboardEventHandler, type PointerEventHandler } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ActivityList, LogActivity } from '../activities';
import { api, ApiError, messageOf, query } from '../api';
import { etagOf, type Deal, type Pipeline, type Stage } from '../crm';
import { ContactPicker } from '../pickers';
import { useSession } from '../session';
import { ErrorPanel, money, PageHeader, When } from '../ui';

/** Every deal of a pipeline, page after page (a board shows them all). */
async function allDeals(pipelineId: string): Promise<Deal[]> {
  const deals: Deal[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.get<{ data: Deal[]; nextCursor: string | null }>(`/crm/deals${query({ pipelineId, limit: 200, sort: 'updatedAt', order: 'desc', cursor })}`);
    deals.push(...page.data);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && deals.length < 2_000);
  return deals;
}

function totals(deals: Deal[]): string {
  const byCurrency = new Map<string, number>();
  for (const d of deals) if (d.amount !== null) byCurrency.set(d.currency, (byCurrency.get(d.currency) ?? 0) + d.amount);
  if (byCurrency.size === 0) return money(0);
  return [...byCurrency].map(([currency, sum]) => money(sum, currency)).join(' + ');
}

export default function Deals() {
  const { can } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const pipelines = useQuery({ queryKey: ['pipelines'], queryFn: () => api.get<{ data: Pipeline[] }>('/crm/pipelines').then((r) => r.data) });
  const pipeline = pipelines.data?.find((p) => p.id === params.get('pipeline')) ?? pipelines.data?.[0];
  const dealsKey = ['deals', 'board', pipeline?.id];
  const deals = useQuery({ queryKey: dealsKey, enabled: Boolean(pipeline), queryFn: () => allDeals(pipeline!.id) });
  const [announcement, setAnnouncement] = useState('');
  const [creating, createModal] = useDisclosure(false);
  const openDeal = params.get('deal');
  const canWrite = can('deals:write');

  const move = useMutation({
    mutationFn: ({ deal, stageId }: { deal: Deal; stageId: string }) => api.patch<Deal>(`/crm/deals/${deal.id}`, { stageId }, { headers: { 'if-match': etagOf(deal) } }),
    onMutate: ({ deal, stageId }) => {
      // The card moves at once; the server's answer (or refusal) settles it.
      client.setQueryData<Deal[]>(dealsKey, (list) => list?.map((d) => (d.id === deal.id ? { ...d, stageId } : d)));
    },
    onSuccess: (saved) => {
      client.setQueryData<Deal[]>(dealsKey, (list) => list?.map((d) => (d.id === saved.id ? saved : d)));
      void client.invalidateQueries({ queryKey: ['deal', saved.id] });
    },
    onError: (error) => {
      const stale = error instanceof ApiError && error.status === 412;
      notifications.show({ color: 'red', title: stale ? 'Someone changed this deal meanwhile' : 'Not moved', message: stale ? 'The board now shows the latest; try again.' : messageOf(error) });
      void client.invalidateQueries({ queryKey: dealsKey });
    },
  });
  const moveTo = (deal: Deal, stage: Stage) => {
    if (deal.stageId === stage.id) return;
    setAnnouncement(`Moved ${deal.name} to ${stage.name}.`);
    move.mutate({ deal, stageId: stage.id });
  };

  const sensors = useSensors(useSensor(PointerSensor, { activationConstraint: { distance: 6 } }), useSensor(KeyboardSensor));
  const onDragEnd = (event: DragEndEvent) => {
    const deal = deals.data?.find((d) => d.id === event.active.id);
    const stage = pipeline?.stages.find((s) => s.id === event.over?.id);
    if (deal && stage) moveTo(deal, stage);
  };
  const byStage = useMemo(() => {
    const map = new Map<string, Deal[]>();
    for (const d of deals.data ?? []) map.set(d.stageId, [...(map.get(d.stageId) ?? []), d]);
    return map;
  }, [deals.data]);

  const setDeal = (id: string | null) => setParams((p) => {
    if (id) p.set('deal', id);
    else p.delete('deal');
    return p;
  });

  return (
    <>
      <PageHeader
        title="Deals"
        description="Drag a deal to another stage; each move is recorded in its stage history and sent as a Deal Stage Changed event."
        actions={
          <>
            {(pipelines.data?.length ?? 0) > 1 && (
              <Select aria-label="Pipeline" value={pipeline?.id ?? null} allowDeselect={false} onChange={(v) => setParams({ pipeline: v ?? '' })} data={(pipelines.data ?? []).map((p) => ({ value: p.id, label: p.name }))} />
            )}
            {canWrite && <Button onClick={createModal.open} disabled={!pipeline}>New deal</Button>}
          </>
        }
      />
      {(pipelines.isError || deals.isError) && <ErrorPanel error={pipelines.error ?? deals.error} />}
      <div aria-live="assertive" className="visually-hidden" style={{ position: 'absolute', left: -9999 }}>{announcement}</div>
      {pipeline && (
        <DndContext sensors={sensors} onDragEnd={onDragEnd} accessibility={{ announcements: {
          onDragStart: ({ active }) => `Picked up ${deals.data?.find((d) => d.id === active.id)?.name ?? 'deal'}.`,
          onDragOver: ({ over }) => (over ? `Over ${pipeline.stages.find((s) => s.id === over.id)?.name}.` : 'Not over a stage.'),
          onDragEnd: ({ over }) => (over ? `Dropped on ${pipeline.stages.find((s) => s.id === over.id)?.name}.` : 'Dropped outside the board.'),
          onDragCancel: () => 'Move cancelled.',
        } }}>
          <ScrollArea type="auto" offsetScrollbars>
            <Group align="flex-start" wrap="nowrap" gap="sm" pb="md">
              {pipeline.stages.map((stage) => (
                <StageColumn key={stage.id} stage={stage} stages={pipeline.stages} deals={byStage.get(stage.id) ?? []} canWrite={canWrite} onOpen={setDeal} onMove={moveTo} />
              ))}
            </Group>
          </ScrollArea>
        </DndContext>
      )}
      <Modal opened={creating} onClose={createModal.close} title="New deal">
        {pipeline && <NewDealForm pipeline={pipeline} onDone={createModal.close} />}
      </Modal>
      <Drawer opened={Boolean(openDeal)} onClose={() => setDeal(null)} position="right" size="lg" title="Deal">
        {openDeal && pipeline && <DealPanel id={openDeal} pipelines={pipelines.data ?? []} />}
      </Drawer>
    </>
  );
}

function StageColumn({ stage, stages, deals, canWrite, onOpen, onMove }: {
  stage: Stage; stages: Stage[]; deals: Deal[]; canWrite: boolean; onOpen: (id: string) => void; onMove: (deal: Deal, stage: Stage) => void;
}) {
  const { setNodeRef, isOver } = useDroppable({ id: stage.id, disabled: !canWrite });
  const weighted = deals.reduce((sum, d) => sum + (d.amount ?? 0) * (stage.probability / 100), 0);
  return (
    <Box
      ref={setNodeRef}
      role="region"
      aria-label={`Stage ${stage.name}`}
      w={260}
      miw={260}
      p="xs"
      bg={isOver ? 'blue.0' : 'gray.0'}
      style={{ borderRadius: 8, border: `1px solid var(--mantine-color-${isOver ? 'blue-4' : 'gray-3'})`, minHeight: 320 }}
    >
      <Stack gap={2} mb="xs">
        <Group justify="space-between">
          <Title order={2} size="h6">{stage.name}</Title>
          <Badge size="sm" variant="light" color={stage.outcome === 'won' ? 'green' : stage.outcome === 'lost' ? 'red' : 'blue'}>{deals.length}</Badge>
        </Group>
        <Text size="xs" c="dimmed" data-testid="stage-total">{totals(deals)}{stage.outcome === 'open' ? ` · weighted ${money(weighted)}` : ''}</Text>
      </Stack>
      <Stack gap="xs">
        {deals.map((deal) => <DealCard key={deal.id} deal={deal} stages={stages} canWrite={canWrite} onOpen={onOpen} onMove={onMove} />)}
      </Stack>
    </Box>
  );
}

function DealCard({ deal, stages, canWrite, onOpen, onMove }: { deal: Deal; stages: Stage[]; canWrite: boolean; onOpen: (id: string) => void; onMove: (deal: Deal, stage: Stage) => void }) {
  const { attributes, listeners, setNodeRef, transform, isDragging } = useDraggable({ id: deal.id, disabled: !canWrite });
  return (
    <Card
      ref={setNodeRef}
      withBorder
      padding="xs"
      shadow={isDragging ? 'md' : 'xs'}
      style={{ transform: transform ? `translate(${transform.x}px, ${transform.y}px)` : undefined, zIndex: isDragging ? 10 : undefined, cursor: canWrite ? 'grab' : undefined, touchAction: 'none' }}
      // A pointer drags from anywhere on the card; the keyboard picks it up by its handle (space, arrows, space).
      onPointerDown={listeners?.onPointerDown as PointerEventHandler<HTMLDivElement> | undefined}
      role="group"
      aria-label={`Deal ${deal.name}`}
    >
      <Group justify="space-between" wrap="nowrap" gap={4}>
        <Text size="sm" fw={600} component="button" onClick={() => onOpen(deal.id)} onPointerDown={(e) => e.stopPropagation()} style={{ all: 'unset', cursor: 'pointer' }} className="deal-link">
          {deal.name}
        </Text>
        {canWrite && (
          <Group gap={2} wrap="nowrap">
          <ActionIcon size="sm" variant="subtle" color="gray" aria-label={`Drag ${deal.name}`} {...attributes} aria-roledescription="draggable deal" onKeyDown={listeners?.onKeyDown as KeyboardEventHandler<HTMLButtonElement> | undefined}>⠿</ActionIcon>
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <Button size="compact-xs" variant="subtle" aria-label={`Move ${deal.name}`} onPointerDown={(e) => e.stopPropagation()}>Move</Button>
            </Menu.Target>
            <Menu.Dropdown>
              {stages.filter((s) => s.id !== deal.stageId).map((s) => <Menu.Item key={s.id} onClick={() => onMove(deal, s)}>{s.name}</Menu.Item>)}
            </Menu.Dropdown>
          </Menu>
          </Group>
        )}
      </Group>
      <Text size="sm">{money(deal.amount, deal.currency)}</Text>
      {deal.closeDate && <Text size="xs" c="dimmed">closes {deal.closeDate}</Text>}
    </Card>
  );
}

function NewDealForm({ pipeline, onDone }: { pipeline: Pipeline; onDone: () => void }) {
  const client = useQueryClient();
  const [stageId, setStageId] = useState<string | null>(pipeline.stages[0]?.id ?? null);
  const [amount, setAmount] = useState<number | string>('');
  const [contactId, setContactId] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: Record<string, unknown>) => api.post<Deal>('/crm/deals', body),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['deals'] });
      onDone();
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    create.mutate({
      name: data.get('name'),
      pipelineId: pipeline.id,
      ...(stageId ? { stageId } : {}),
      ...(amount !== '' ? { amount: Number(amount) } : {}),
      ...(data.get('closeDate') ? { closeDate: data.get('closeDate') } : {}),
      ...(contactId ? { contactIds: [contactId] } : {}),
    });
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        {create.isError && <ErrorPanel error={create.error} />}
        <TextInput label="Deal name" name="name" required data-autofocus />
        <NumberInput label="Amount (USD)" min={0} value={amount} onChange={setAmount} thousandSeparator="," />
        <Select label="Stage" value={stageId} onChange={setStageId} allowDeselect={false} data={pipeline.stages.map((s) => ({ value: s.id, label: s.name }))} />
        <TextInput label="Close date" name="closeDate" type="date" />
        <ContactPicker value={contactId} onChange={setContactId} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>Cancel</Button>
          <Button type="submit" loading={create.isPending}>Create deal</Button>
        </Group>
      </Stack>
    </form>
  );
}

function DealPanel({ id, pipelines }: { id: string; pipelines: Pipeline[] }) {
  const { can } = useSession();
  const deal = useQuery({ queryKey: ['deal', id], queryFn: () => api.get<Deal>(`/crm/deals/${id}`) });
  const history = useQuery({
    queryKey: ['deal', id, 'history'],
    queryFn: () => api.get<{ data: { fromStageId: string | null; toStageId: string; at: string; actor: string | null }[] }>(`/crm/deals/${id}/stage-history`).then((r) => r.data),
  });
  if (deal.isError) return <ErrorPanel error={deal.error} />;
  if (!deal.data) return null;
  const d = deal.data;
  const stages = pipelines.flatMap((p) => p.stages);
  const stageName = (stageId: string) => stages.find((s) => s.id === stageId)?.name ?? stageId;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2} size="h3">{d.name}</Title>
        <Button component={Link} to={`/crm/deals/${d.id}`} variant="default" size="xs">Open deal page</Button>
      </Group>
      <Group gap="lg">
        <Text><b>{money(d.amount, d.currency)}</b></Text>
        <Badge variant="light">{stageName(d.stageId)}</Badge>
        <Text size="sm" c="dimmed">{d.closeDate ? `closes ${d.closeDate}` : 'no close date'}</Text>
      </Group>
      {d.contactIds.length > 0 && (
        <Text size="sm">Contacts: {d.contactIds.map((c, i) => <span key={c}>{i > 0 && ', '}<Link to={`/crm/contacts/${c}`}>{c.slice(0, 8)}…</Link></span>)}</Text>
      )}
      <Title order={3} size="h5">Stage history</Title>
      <Stack gap={2}>
        {history.data?.map((h, i) => <Text key={i} size="sm">{h.fromStageId ? `${stageName(h.fromStageId)} → ` : 'Created in '}{stageName(h.toStageId)} · <When at={h.at} /></Text>)}
      </Stack>
      {can('activities:write') && (
        <>
          <Title order={3} size="h5">Log activity</Title>
          <LogActivity record={{ object: 'deal', id: d.id }} alsoContacts={d.contactIds} />
        </>
      )}
      <Title order={3} size="h5">Activities</Title>
      <ActivityList record={{ object: 'deal', id: d.id }} />
    </Stack>
  );
}
