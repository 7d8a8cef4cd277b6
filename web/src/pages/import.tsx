import { Alert, Anchor, Button, Card, FileInput, Group, Progress, SegmentedControl, Select, Stack, Stepper, Table, Text, Textarea } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { parse } from 'csv-parse/browser/esm/sync';
import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { api, messageOf } from '../api';
import { ErrorPanel, PageHeader } from '../ui';

type ImportObject = 'contact' | 'company' | 'deal';

interface ImportReport {
  id: string | null;
  object: ImportObject;
  status: 'dry_run' | 'processing' | 'done' | string;
  rows: number;
  valid: number;
  invalid: number;
  duplicates: number;
  applied?: number;
  problems: { line: number; errors: string[] }[];
}

const FIELDS: Record<ImportObject, { value: string; label: string; required?: boolean }[]> = {
  contact: [
    { value: 'email', label: 'Email', required: true }, { value: 'name', label: 'Name' }, { value: 'firstName', label: 'First name' },
    { value: 'lastName', label: 'Last name' }, { value: 'phone', label: 'Phone' }, { value: 'title', label: 'Job title' },
    { value: 'ownerId', label: 'Owner (user id)' }, { value: 'lifecycleStage', label: 'Lifecycle stage' },
  ],
  company: [
    { value: 'name', label: 'Name' }, { value: 'domain', label: 'Domain', required: true }, { value: 'groupId', label: 'Group id' },
    { value: 'industry', label: 'Industry' }, { value: 'employees', label: 'Employees' }, { value: 'ownerId', label: 'Owner (user id)' },
  ],
  deal: [
    { value: 'name', label: 'Name', required: true }, { value: 'amount', label: 'Amount' }, { value: 'currency', label: 'Currency' },
    { value: 'pipeline', label: 'Pipeline' }, { value: 'stage', label: 'Stage' }, { value: 'closeDate', label: 'Close date' },
    { value: 'ownerId', label: 'Owner (user id)' }, { value: 'contactEmail', label: 'Contact email' }, { value: 'companyDomain', label: 'Company domain' },
  ],
};

const OBJECT_PAGES: Record<ImportObject, { label: string; to: string }> = {
  contact: { label: 'Contacts', to: '/crm/contacts' },
  company: { label: 'Contacts', to: '/crm/contacts' },
  deal: { label: 'Deals', to: '/crm/deals' },
};

const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The field a column most likely holds: "E-mail" -> email, "Job Title" -> title, "Company" -> companyDomain for deals. */
function guess(column: string, fields: { value: string; label: string }[]): string | null {
  const c = squash(column);
  const hit = fields.find((f) => squash(f.value) === c || squash(f.label) === c) ?? fields.find((f) => c.includes(squash(f.value)) || c.includes(squash(f.label)));
  if (hit) return hit.value;
  if (c === 'mail' || c.endsWith('mail')) return fields.find((f) => f.value === 'email' || f.value === 'contactEmail')?.value ?? null;
  if (c === 'fullname') return 'name';
  return null;
}

export default function Import() {
  const [step, setStep] = useState(0);
  const [object, setObject] = useState<ImportObject>('contact');
  const [csv, setCsv] = useState('');
  const [mapping, setMapping] = useState<Record<string, string | null>>({});
  const custom = useQuery({
    queryKey: ['fields', object],
    queryFn: () => api.get<{ data: { key: string; label?: string; name?: string }[] }>(`/crm/fields/${object}`).then((r) => r.data).catch(() => []),
  });
  const fields = useMemo(
    () => [...FIELDS[object], ...(custom.data ?? []).map((f) => ({ value: `custom.${f.key}`, label: `${f.label ?? f.name ?? f.key} (custom)` }))],
    [object, custom.data],
  );
  const parsed = useMemo(() => {
    if (!csv.trim()) return { columns: [] as string[], rows: [] as string[][], error: null as string | null };
    try {
      const records = parse(csv, { relax_column_count: true, skip_empty_lines: true, bom: true, to: 6 }) as string[][];
      return { columns: records[0] ?? [], rows: records.slice(1), error: null };
    } catch (error) {
      return { columns: [], rows: [], error: messageOf(error) };
    }
  }, [csv]);

  const body = () => ({ object, csv, mapping: Object.fromEntries(Object.entries(mapping).filter((e): e is [string, string] => Boolean(e[1]))) });
  const check = useMutation({ mutationFn: () => api.post<ImportReport>('/crm/imports', { ...body(), dryRun: true }) });
  const start = useMutation({ mutationFn: () => api.post<ImportReport>('/crm/imports', body()) });
  const progress = useQuery({
    queryKey: ['import', start.data?.id],
    enabled: Boolean(start.data?.id),
    queryFn: () => api.get<ImportReport>(`/crm/imports/${start.data!.id}`),
    refetchInterval: (q) => (q.state.data?.status === 'done' ? false : 500),
  });

  const loadFile = async (file: File | null) => {
    if (!file) return;
    setCsv(await file.text());
  };
  const toMapping = () => {
    setMapping(Object.fromEntries(parsed.columns.map((c) => [c, guess(c, fields)])));
    setStep(1);
  };
  const mapped = new Set(Object.values(mapping).filter(Boolean));
  const missing = FIELDS[object].filter((f) => f.required && !mapped.has(f.value) && !(object === 'company' && f.value === 'domain' && mapped.has('groupId')));
  const report = progress.data ?? start.data;
  const applied = report?.applied ?? 0;

  return (
    <>
      <PageHeader title="Import a CSV" description="Contacts, companies or deals from a spreadsheet: map the columns, check every row, then import." />
      <Stepper active={step} onStepClick={(s) => s < step && !start.data && setStep(s)} allowNextStepsSelect={false}>
        <Stepper.Step label="File" description="What and from where">
          <Card withBorder mt="md">
            <Stack>
              <SegmentedControl aria-label="Import" value={object} onChange={(v) => setObject(v as ImportObject)} data={[{ value: 'contact', label: 'Contacts' }, { value: 'company', label: 'Companies' }, { value: 'deal', label: 'Deals' }]} w="fit-content" />
              <FileInput label="CSV file" accept=".csv,text/csv" placeholder="Choose a file" onChange={(f) => void loadFile(f)} clearable />
              <Textarea label="Or paste the CSV" autosize minRows={4} maxRows={12} value={csv} onChange={(e) => setCsv(e.currentTarget.value)} styles={{ input: { fontFamily: 'monospace' } }} />
              {parsed.error && <Alert color="red" role="alert">This is not readable CSV: {parsed.error}</Alert>}
              {parsed.columns.length > 0 && <Text size="sm">{parsed.columns.length} columns: {parsed.columns.join(', ')}</Text>}
              <Button w="fit-content" disabled={parsed.columns.length === 0} onClick={toMapping}>Map columns</Button>
            </Stack>
          </Card>
        </Stepper.Step>
        <Stepper.Step label="Map" description="Columns to fields">
          <Card withBorder mt="md">
            <Table aria-label="Column mapping" verticalSpacing={6}>
              <Table.Thead>
                <Table.Tr><Table.Th>Column</Table.Th><Table.Th>First values</Table.Th><Table.Th>Field</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {parsed.columns.map((column, i) => (
                  <Table.Tr key={column}>
                    <Table.Td fw={600}>{column}</Table.Td>
                    <Table.Td><Text size="sm" c="dimmed" lineClamp={1}>{parsed.rows.map((r) => r[i]).filter(Boolean).slice(0, 3).join(' · ')}</Text></Table.Td>
                    <Table.Td w={260}>
                      <Select aria-label={`Field for ${column}`} placeholder="Don't import" clearable value={mapping[column] ?? null} data={fields} onChange={(v) => setMapping((m) => ({ ...m, [column]: v }))} />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            {missing.length > 0 && <Text size="sm" c="red.9" mt="sm">Map a column to {missing.map((f) => f.label).join(', ')}.</Text>}
            <Group mt="md">
              <Button variant="default" onClick={() => setStep(0)}>Back</Button>
              <Button disabled={missing.length > 0} loading={check.isPending} onClick={() => check.mutate(undefined, { onSuccess: () => setStep(2) })}>Check rows</Button>
            </Group>
            {check.isError && <ErrorPanel error={check.error} />}
          </Card>
        </Stepper.Step>
        <Stepper.Step label="Check" description="Every row, before writing">
          {check.data && (
            <Card withBorder mt="md">
              <Group gap="xl" mb="md" aria-label="Check results">
                <Text><b>{check.data.rows}</b> rows</Text>
                <Text c="green.9"><b>{check.data.valid}</b> ready to import</Text>
                <Text c={check.data.invalid ? 'red.9' : undefined}><b>{check.data.invalid}</b> with problems</Text>
                {check.data.duplicates > 0 && <Text c="orange.9"><b>{check.data.duplicates}</b> duplicates in the file</Text>}
              </Group>
              {check.data.problems.length > 0 && (
                <Table aria-label="Problems" verticalSpacing={4} mb="md">
                  <Table.Thead><Table.Tr><Table.Th>Line</Table.Th><Table.Th>Problem</Table.Th></Table.Tr></Table.Thead>
                  <Table.Tbody>
                    {check.data.problems.slice(0, 200).map((p) => (
                      <Table.Tr key={p.line}><Table.Td>{p.line}</Table.Td><Table.Td>{p.errors.join('; ')}</Table.Td></Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
              <Text size="sm" c="dimmed" mb="sm">Rows with problems are skipped; the others are imported together.</Text>
              <Group>
                <Button variant="default" onClick={() => setStep(1)}>Back to mapping</Button>
                <Button disabled={check.data.valid === 0} loading={start.isPending} onClick={() => start.mutate(undefined, { onSuccess: () => setStep(3) })}>
                  Import {check.data.valid} {check.data.valid === 1 ? 'row' : 'rows'}
                </Button>
              </Group>
              {start.isError && <ErrorPanel error={start.error} />}
            </Card>
          )}
        </Stepper.Step>
        <Stepper.Step label="Import" description="Progress">
          {report && (
            <Card withBorder mt="md">
              <Text mb="xs">{report.status === 'done' ? `Imported ${applied} of ${report.valid} rows.` : `Importing… ${applied} of ${report.valid} rows applied.`}</Text>
              <Progress value={report.valid ? (100 * applied) / report.valid : 100} aria-label="Import progress" size="lg" animated={report.status !== 'done'} />
              {report.status === 'done' && (
                <Group mt="md">
                  <Anchor component={Link} to={OBJECT_PAGES[object].to}>Open {OBJECT_PAGES[object].label}</Anchor>
                </Group>
              )}
            </Card>
          )}
        </Stepper.Step>
      </Stepper>
    </>
  );
}
