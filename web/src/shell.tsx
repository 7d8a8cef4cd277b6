import { AppShell, Burger, Button, Group, NavLink, Select, Text, Title, VisuallyHidden } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import type { ReactNode } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { messageOf } from './api';
import { CrmSearch } from './search';
import { useSession } from './session';

interface Section {
  label: string;
  to: string;
  permission: string;
}

const SECTIONS: { heading: string; items: Section[] }[] = [
  {
    heading: 'Customer data',
    items: [
      { label: 'Overview', to: '/', permission: 'sources:read' },
      { label: 'Sources', to: '/sources', permission: 'sources:read' },
      { label: 'Profiles', to: '/profiles', permission: 'profiles:read' },
      { label: 'Computed traits', to: '/computed-traits', permission: 'computed_traits:read' },
      { label: 'Audiences', to: '/audiences', permission: 'audiences:read' },
      { label: 'Destinations', to: '/destinations', permission: 'destinations:read' },
    ],
  },
  {
    heading: 'CRM',
    items: [
      { label: 'Contacts', to: '/crm/contacts', permission: 'contacts:read' },
      { label: 'Companies', to: '/crm/companies', permission: 'companies:read' },
      { label: 'Deals', to: '/crm/deals', permission: 'deals:read' },
      { label: 'My tasks', to: '/crm/tasks', permission: 'tasks:read' },
      { label: 'Tickets', to: '/crm/tickets', permission: 'tickets:read' },
      { label: 'Reports', to: '/crm/reports', permission: 'reports:read' },
      { label: 'Import', to: '/crm/import', permission: 'imports:write' },
    ],
  },
  {
    heading: 'Settings',
    items: [
      { label: 'Members', to: '/settings/members', permission: 'users:read' },
      { label: 'Roles', to: '/settings/roles', permission: 'roles:read' },
      { label: 'API keys', to: '/settings/api-keys', permission: 'api_keys:read' },
      { label: 'Identity rules', to: '/settings/identity-rules', permission: 'identity:read' },
      { label: 'Privacy', to: '/settings/privacy', permission: 'privacy:read' },
      { label: 'Audit log', to: '/settings/audit', permission: 'audit:read' },
    ],
  },
];

/** Where a user lands: the first screen their permissions open (the overview for most). */
export function homeOf(can: (permission: string) => boolean): string | null {
  return SECTIONS.flatMap((s) => s.items).find((item) => can(item.permission))?.to ?? null;
}

function isActive(pathname: string, to: string): boolean {
  return to === '/' ? pathname === '/' : pathname === to || pathname.startsWith(`${to}/`);
}

export function Shell({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const { session, can, signOut, switchWorkspace } = useSession();
  const { pathname } = useLocation();
  const navigate = useNavigate();

  const onSwitch = async (workspaceId: string | null) => {
    if (!workspaceId || workspaceId === session.workspace.id) return;
    try {
      await switchWorkspace(workspaceId);
      navigate('/');
    } catch (error) {
      notifications.show({ color: 'red', title: 'Could not switch workspace', message: messageOf(error) });
    }
  };

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="lg">
      <a href="#main" className="skip-link">Skip to content</a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Title order={2} size="h4" c="blue.8">Rapport</Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            {(can('contacts:read') || can('deals:read') || can('companies:read') || can('tickets:read')) && <CrmSearch />}
            {session.workspaces.length > 0 && (
              <Select
                aria-label="Workspace"
                size="xs"
                w={200}
                allowDeselect={false}
                value={session.workspace.id}
                data={session.workspaces.map((w) => ({ value: w.id, label: w.name }))}
                onChange={onSwitch}
                comboboxProps={{ withinPortal: true }}
              />
            )}
            <Text size="sm" c="dimmed" visibleFrom="md">{session.user?.email}</Text>
            <Button variant="default" size="xs" onClick={() => void signOut()}>Sign out</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        {SECTIONS.map((section) => {
          const items = section.items.filter((item) => can(item.permission));
          if (items.length === 0) return null;
          return (
            <div key={section.heading}>
              <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" pt="md" pb={4}>{section.heading}</Text>
              {items.map((item) => (
                <NavLink
                  key={item.to}
                  component={Link}
                  to={item.to}
                  label={item.label}
                  active={isActive(pathname, item.to)}
                  aria-current={isActive(pathname, item.to) ? 'page' : undefined}
                  onClick={close}
                />
              ))}
            </div>
          );
        })}
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <VisuallyHidden>
          <span aria-live="polite">{session.workspace.name}</span>
        </VisuallyHidden>
        {children}
      </AppShell.Main>
    </AppShell>
  );
}
