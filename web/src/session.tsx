import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, type ReactNode } from 'react';
import { api, ApiError, onSignedOut, setCsrfToken } from './api';

export interface SessionView {
  actor: { type: 'user' | 'api_key'; id: string };
  user: { id: string; email: string; name: string | null } | null;
  workspace: { id: string; name: string };
  role: string;
  permissions: string[];
  csrfToken: string | null;
  workspaces: { id: string; name: string; role: string }[];
}

/**
 * Whether the session may do `permission` ("deals:write"). Should a permission be split finer later
 * ("deals.pipeline:write"), any finer permission of the same area and action counts, so the UI shows a
 * screen when the user can use some of it, and each call's own 403 tells the rest.
 */
export function allows(permissions: readonly string[], permission: string): boolean {
  if (permissions.includes(permission)) return true;
  const [area, action] = permission.split(':');
  return permissions.some((p) => {
    const [pArea, pAction] = p.split(':');
    return pAction === action && (pArea.startsWith(`${area}.`) || pArea.startsWith(`${area}_`) || pArea.startsWith(`${area}/`));
  });
}

interface SessionContextValue {
  session: SessionView;
  can(permission: string): boolean;
  signOut(): Promise<void>;
  switchWorkspace(workspaceId: string): Promise<void>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside a signed-in screen');
  return value;
}

export const SESSION_KEY = ['session'] as const;

/** GET /auth/session: the view, or null when nobody is signed in. */
export function useSessionQuery() {
  const client = useQueryClient();
  useEffect(() => onSignedOut(() => client.setQueryData(SESSION_KEY, null)), [client]);
  return useQuery({
    queryKey: SESSION_KEY,
    queryFn: async () => {
      try {
        const view = await api.get<SessionView>('/auth/session');
        setCsrfToken(view.csrfToken);
        return view;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
    retry: false,
  });
}

/** After sign-in, setup or a switch: the new session is the truth, and every cached answer was another's. */
export function useAdoptSession() {
  const client = useQueryClient();
  return (view: SessionView) => {
    setCsrfToken(view.csrfToken);
    client.removeQueries({ predicate: (q) => q.queryKey[0] !== SESSION_KEY[0] });
    client.setQueryData(SESSION_KEY, view);
  };
}

export function SessionProvider({ session, children }: { session: SessionView; children: ReactNode }) {
  const client = useQueryClient();
  const adopt = useAdoptSession();
  const value: SessionContextValue = {
    session,
    can: (permission) => allows(session.permissions, permission),
    async signOut() {
      try {
        await api.post('/auth/logout');
      } finally {
        setCsrfToken(null);
        client.setQueryData(SESSION_KEY, null);
        client.removeQueries({ predicate: (q) => q.queryKey[0] !== SESSION_KEY[0] });
      }
    },
    async switchWorkspace(workspaceId) {
      adopt(await api.post<SessionView>('/auth/switch-workspace', { workspaceId }));
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
