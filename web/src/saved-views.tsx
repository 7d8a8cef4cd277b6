import { ActionIcon, Button, Group, Modal, Select, Stack, TextInput, Tooltip } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import { api, messageOf } from './api';
import type { SavedView } from './crm';
import { useSession } from './session';

type ViewObject = 'contact' | 'company' | 'deal' | 'task' | 'ticket';

/**
 * A list's saved views: pick one (its query goes into the address, with `view`), delete it, or save the
 * list's query under a name. `query` is what the filters show; `onApply` tells the page a view was picked.
 */
export function SavedViews({ object, plural, query, onApply }: { object: ViewObject; plural: string; query: Record<string, string>; onApply: (query: Record<string, string>) => void }) {
  const { can } = useSession();
  const client = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [saving, saveModal] = useDisclosure(false);
  const views = useQuery({ queryKey: ['views', object], enabled: can('crm_settings:read'), queryFn: () => api.get<{ data: SavedView[] }>(`/crm/views?object=${object}`).then((r) => r.data) });
  const selected = params.get('view');
  const apply = (id: string | null) => {
    const view = views.data?.find((v) => v.id === id);
    const next = new URLSearchParams();
    const q = Object.fromEntries(Object.entries(view?.query ?? {}).map(([k, v]) => [k, String(v)]));
    for (const [k, v] of Object.entries(q)) next.set(k, v);
    if (view) next.set('view', view.id);
    onApply(q);
    setParams(next, { replace: true });
  };
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/crm/views/${id}`),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['views', object] });
      apply(null);
    },
  });
  return (
    <>
      <Select
        label="Saved view"
        placeholder={`All ${plural}`}
        clearable
        value={selected}
        onChange={apply}
        data={(views.data ?? []).map((v) => ({ value: v.id, label: v.name }))}
        w={200}
      />
      {selected && can('crm_settings:write') && (
        <Tooltip label="Delete this view">
          <ActionIcon variant="subtle" color="red" size="lg" aria-label="Delete view" onClick={() => remove.mutate(selected)}>×</ActionIcon>
        </Tooltip>
      )}
      {can('crm_settings:write') && <Button variant="default" onClick={saveModal.open}>Save view</Button>}
      <Modal opened={saving} onClose={saveModal.close} title="Save this view">
        <SaveViewForm object={object} query={query} onDone={(id) => {
          saveModal.close();
          if (id) setParams((p) => {
            p.set('view', id);
            return p;
          }, { replace: true });
        }} />
      </Modal>
    </>
  );
}

function SaveViewForm({ object, query: q, onDone }: { object: ViewObject; query: Record<string, string>; onDone: (id?: string) => void }) {
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: (name: string) => api.post<SavedView>('/crm/views', { object, name, query: q }),
    onSuccess: (view) => {
      void client.invalidateQueries({ queryKey: ['views', object] });
      notifications.show({ color: 'green', message: `View "${view.name}" saved for the workspace.` });
      onDone(view.id);
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    save.mutate(String(new FormData(event.currentTarget).get('name') ?? ''));
  };
  return (
    <form onSubmit={submit}>
      <Stack>
        <TextInput label="View name" name="name" required data-autofocus error={save.isError ? messageOf(save.error) : undefined} />
        <Group justify="flex-end">
          <Button variant="default" onClick={() => onDone()}>Cancel</Button>
          <Button type="submit" loading={save.isPending}>Save view</Button>
        </Group>
      </Stack>
    </form>
  );
}
