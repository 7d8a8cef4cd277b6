import { BarChart } from '@mantine/charts';
import { Card, Group, Select, SimpleGrid, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { api, query } from '../api';
import { stageLabel, type Pipeline } from '../crm';
import { useMembers } from '../members';
import { ErrorPanel, money, PageHeader } from '../ui';

type Amounts = Record<string, number>;
interface PipelineReport { pipelineId: string; stages: { stageId: string; name: string; outcome: string; probability: number; deals: number; value: Amounts; weighted: Amounts }[] }
interface ForecastMonth { month: string; openDeals: number; pipeline: Amounts; weighted: Amounts; wonDeals: number; won: Amounts }
interface Rate { won: number; lost: number; winRate: number | null }
interface WinRate extends Rate { owners: (Rate & { ownerId: string | null })[] }
interface OwnerActivities { ownerId: string | null; notes: number; calls: number; emails: number; meetings: number; total: number }
interface Compliance { met: number; missed: number; running: number; compliance: number | null }
interface SlaRow { priority: string; tickets: number; firstResponse: Compliance; resolution: Compliance }

const DAY = 86_400_000;
const PERIODS = [{ value: '30', label: 'Last 30 days' }, { value: '90', label: 'Last 90 days' }, { value: '365', label: 'Last 12 months' }];
const percent = (share: number | null) => (share === null ? '—' : `${Math.round(share * 100)}%`);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function ReportCard({ title, error, children }: { title: string; error?: unknown; children: ReactNode }) {
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="sm">{title}</Title>
      {error ? <ErrorPanel error={error} /> : children}
    </Card>
  );
}

export default function Reports() {
  const { nameOf } = useMembers();
  const [period, setPeriod] = useState('90');
  // The range ends at the start of tomorrow, so today's work counts and the key stays stable through the day.
  const to = new Date(new Date().setHours(24, 0, 0, 0)).getTime();
  const from = to - Number(period) * DAY;
  const range = query({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  // The forecast looks as far ahead as the period looks back.
  const forecastRange = query({ from: day(from), to: day(to + Number(period) * DAY) });

  const pipelines = useQuery({ queryKey: ['pipelines'], queryFn: () => api.get<{ data: Pipeline[] }>('/crm/pipelines').then((r) => r.data) });
  const [pipelineId, setPipelineId] = useState<string | null>(null);
  const pipeline = useQuery({ queryKey: ['reports', 'pipeline', pipelineId], queryFn: () => api.get<PipelineReport>(`/crm/reports/pipeline${query({ pipelineId })}`) });
  const forecast = useQuery({ queryKey: ['reports', 'forecast', forecastRange], queryFn: () => api.get<{ data: ForecastMonth[] }>(`/crm/reports/forecast${forecastRange}`).then((r) => r.data) });
  const winRate = useQuery({ queryKey: ['reports', 'win-rate', range], queryFn: () => api.get<WinRate>(`/crm/reports/win-rate${range}`) });
  const activities = useQuery({ queryKey: ['reports', 'activities', range], queryFn: () => api.get<{ data: OwnerActivities[] }>(`/crm/reports/activities${range}`).then((r) => r.data) });
  const sla = useQuery({ queryKey: ['reports', 'sla', range], queryFn: () => api.get<{ data: SlaRow[] }>(`/crm/reports/sla${range}`).then((r) => r.data) });

  // Amounts of different currencies are never added: the charts show one at a time.
  const currencies = [...new Set([
    ...(pipeline.data?.stages ?? []).flatMap((s) => Object.keys(s.value)),
    ...(forecast.data ?? []).flatMap((m) => [...Object.keys(m.pipeline), ...Object.keys(m.won)]),
  ])].sort();
  const [chosen, setCurrency] = useState<string | null>(null);
  const currency = chosen && currencies.includes(chosen) ? chosen : currencies.includes('USD') || currencies.length === 0 ? 'USD' : currencies[0];
  const format = (value: number) => money(value, currency);

  const pipelineData = (pipeline.data?.stages ?? []).filter((s) => s.outcome === 'open').map((s) => ({ stage: s.name, Value: s.value[currency] ?? 0, Weighted: s.weighted[currency] ?? 0 }));
  const forecastData = (forecast.data ?? []).map((m) => ({ month: m.month, Weighted: m.weighted[currency] ?? 0, Won: m.won[currency] ?? 0 }));
  const winData = (winRate.data?.owners ?? []).map((o) => ({ owner: nameOf(o.ownerId), Won: o.won, Lost: o.lost }));
  const activityData = (activities.data ?? []).map((a) => ({ owner: nameOf(a.ownerId), Calls: a.calls, Emails: a.emails, Meetings: a.meetings, Notes: a.notes }));
  const slaData = (sla.data ?? []).map((r) => ({
    priority: stageLabel(r.priority),
    'First response': r.firstResponse.compliance === null ? 0 : Math.round(r.firstResponse.compliance * 100),
    Resolution: r.resolution.compliance === null ? 0 : Math.round(r.resolution.compliance * 100),
  }));

  return (
    <>
      <PageHeader
        title="Reports"
        description="The pipeline, the forecast, the win rate, the team's activity and the support SLAs, computed from the CRM as it is now."
        actions={
          <>
            {(pipelines.data?.length ?? 0) > 1 && (
              <Select label="Pipeline" allowDeselect={false} value={pipeline.data?.pipelineId ?? null} onChange={setPipelineId} data={(pipelines.data ?? []).map((p) => ({ value: p.id, label: p.name }))} w={190} />
            )}
            <Select label="Period" allowDeselect={false} value={period} onChange={(v) => setPeriod(v ?? '90')} data={PERIODS} w={170} />
            {currencies.length > 1 && <Select label="Currency" allowDeselect={false} value={currency} onChange={setCurrency} data={currencies} w={110} />}
          </>
        }
      />
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="lg">
        <ReportCard title="Pipeline value by stage" error={pipeline.error}>
          <BarChart h={260} data={pipelineData} dataKey="stage" valueFormatter={format} withLegend
            series={[{ name: 'Value', color: 'blue.8' }, { name: 'Weighted', color: 'teal.8' }]} aria-label="Open pipeline value by stage, raw and weighted" />
          <Text size="sm" c="dimmed" mt="xs">
            Open: {format(pipelineData.reduce((a, s) => a + s.Value, 0))} · weighted {format(pipelineData.reduce((a, s) => a + s.Weighted, 0))}
          </Text>
        </ReportCard>
        <ReportCard title="Weighted forecast by close month" error={forecast.error}>
          {forecastData.length === 0 ? <Text size="sm" c="dimmed">No deal closes in this range.</Text> : (
            <BarChart h={260} data={forecastData} dataKey="month" valueFormatter={format} withLegend
              series={[{ name: 'Weighted', color: 'blue.8' }, { name: 'Won', color: 'green.8' }]} aria-label="Weighted forecast and won value by close month" />
          )}
        </ReportCard>
        <ReportCard title="Win rate" error={winRate.error}>
          <Group gap="xl" mb="sm">
            <div>
              <Text fz={28} fw={700} aria-label="Win rate">{percent(winRate.data?.winRate ?? null)}</Text>
              <Text size="xs" c="dimmed">{winRate.data ? `${winRate.data.won} won · ${winRate.data.lost} lost` : ' '}</Text>
            </div>
          </Group>
          {winData.length === 0 ? <Text size="sm" c="dimmed">No deal was closed in this period.</Text> : (
            <BarChart h={220} data={winData} dataKey="owner" type="stacked" withLegend
              series={[{ name: 'Won', color: 'green.8' }, { name: 'Lost', color: 'red.8' }]} aria-label="Deals won and lost per owner" />
          )}
        </ReportCard>
        <ReportCard title="Activities per owner" error={activities.error}>
          {activityData.length === 0 ? <Text size="sm" c="dimmed">No activity logged in this period.</Text> : (
            <BarChart h={260} data={activityData} dataKey="owner" type="stacked" withLegend
              series={[{ name: 'Calls', color: 'blue.8' }, { name: 'Emails', color: 'violet.8' }, { name: 'Meetings', color: 'teal.8' }, { name: 'Notes', color: 'gray.7' }]}
              aria-label="Activities per owner and kind" />
          )}
        </ReportCard>
        <ReportCard title="Ticket SLA compliance" error={sla.error}>
          {slaData.length === 0 ? <Text size="sm" c="dimmed">No ticket was opened in this period.</Text> : (
            <>
              <BarChart h={220} data={slaData} dataKey="priority" valueFormatter={(v) => `${v}%`} withLegend yAxisProps={{ domain: [0, 100] }}
                series={[{ name: 'First response', color: 'blue.8' }, { name: 'Resolution', color: 'green.8' }]} aria-label="Share of SLA targets met per priority" />
              <Table aria-label="SLA compliance per priority" mt="sm" verticalSpacing={4}>
                <Table.Thead>
                  <Table.Tr><Table.Th>Priority</Table.Th><Table.Th>Tickets</Table.Th><Table.Th>First response met</Table.Th><Table.Th>Resolution met</Table.Th><Table.Th>Targets missed</Table.Th></Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {(sla.data ?? []).map((r) => (
                    <Table.Tr key={r.priority}>
                      <Table.Td>{stageLabel(r.priority)}</Table.Td>
                      <Table.Td>{r.tickets}</Table.Td>
                      <Table.Td>{percent(r.firstResponse.compliance)}</Table.Td>
                      <Table.Td>{percent(r.resolution.compliance)}</Table.Td>
                      <Table.Td>{r.firstResponse.missed + r.resolution.missed}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </>
          )}
        </ReportCard>
      </SimpleGrid>
    </>
  );
}
