import { notifications } from '@mantine/notifications';
import { useMutation, useQueryClient, type QueryKey } from '@tanstack/react-query';
import { api, ApiError, messageOf } from './api';
import { etagOf } from './crm';

/**
 * Saving a change to one CRM record, guarded by its version (If-Match): the answer replaces the cached record
 * and the lists holding it are refreshed; a refusal says why, a stale write (412) that someone else saved first,
 * and the page reloads the record either way.
 */
export function useSaveRecord<T extends { id: string; version: number }>(opts: { path: string; key: QueryKey; lists: QueryKey[]; current: T | undefined; noun: string }) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (change: Record<string, unknown>) => api.patch<T>(opts.path, change, { headers: { 'if-match': etagOf(opts.current!) } }),
    onSuccess: (next) => {
      client.setQueryData(opts.key, next);
      for (const list of opts.lists) void client.invalidateQueries({ queryKey: list });
      notifications.show({ color: 'green', message: 'Saved.' });
    },
    onError: (error) => {
      const stale = error instanceof ApiError && error.status === 412;
      notifications.show({ color: 'red', title: stale ? `Someone changed this ${opts.noun} meanwhile` : 'Not saved', message: stale ? 'The page now shows the latest; try again.' : messageOf(error) });
      void client.invalidateQueries({ queryKey: opts.key });
    },
  });
}
