import { Center, Loader } from '@mantine/core';
import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { AcceptInvitation } from './accept-invitation';
import { homeOf, Shell } from './shell';
import { SessionProvider, useSession, useSessionQuery } from './session';
import { Welcome } from './welcome';
import { ErrorPanel } from './ui';

// Each screen is its own chunk, fetched when first visited.
const Overview = lazy(() => import('./pages/overview'));
const Sources = lazy(() => import('./pages/sources'));
const SourcePage = lazy(() => import('./pages/source'));
const Profiles = lazy(() => import('./pages/profiles'));
const ProfilePage = lazy(() => import('./pages/profile'));
const Contacts = lazy(() => import('./pages/contacts'));
const ContactPage = lazy(() => import('./pages/contact'));
const Deals = lazy(() => import('./pages/deals'));
const DealPage = lazy(() => import('./pages/deal'));
const Companies = lazy(() => import('./pages/companies'));
const CompanyPage = lazy(() => import('./pages/company'));
const Tasks = lazy(() => import('./pages/tasks'));
const Tickets = lazy(() => import('./pages/tickets'));
const TicketPage = lazy(() => import('./pages/ticket'));
const Reports = lazy(() => import('./pages/reports'));
const Audiences = lazy(() => import('./pages/audiences'));
const ComputedTraits = lazy(() => import('./pages/computed-traits'));
const ComputedTraitPage = lazy(() => import('./pages/computed-trait'));
const AudienceBuilder = lazy(() => import('./pages/audience-builder'));
const AudiencePage = lazy(() => import('./pages/audience'));
const Import = lazy(() => import('./pages/import'));
const Members = lazy(() => import('./pages/members'));
const Roles = lazy(() => import('./pages/roles'));
const ApiKeys = lazy(() => import('./pages/api-keys'));
const IdentityRules = lazy(() => import('./pages/identity-rules'));
const Privacy = lazy(() => import('./pages/privacy'));
const AuditLog = lazy(() => import('./pages/audit'));
const Destinations = lazy(() => import('./pages/destinations'));
const DestinationPage = lazy(() => import('./pages/destination'));
const NotFound = lazy(() => import('./pages/not-found'));

export function Loading() {
  return (
    <Center h="60vh" aria-busy="true">
      <Loader aria-label="Loading" />
    </Center>
  );
}

/** The overview, or for a role that cannot read it, the first screen it can. */
function Home() {
  const { can } = useSession();
  const home = homeOf(can);
  if (home === '/' || home === null) return <Overview />;
  return <Navigate to={home} replace />;
}

export function App() {
  const session = useSessionQuery();
  const { pathname } = useLocation();
  // An invitation is accepted signed in or not: it may be for another account or workspace.
  if (pathname === '/accept-invitation') return <AcceptInvitation />;
  if (session.isPending) return <Loading />;
  if (session.isError) return <ErrorPanel error={session.error} />;
  if (!session.data) return <Welcome />;
  return (
    <SessionProvider session={session.data}>
      <Shell>
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<Home />} />
            <Route path="/sources" element={<Sources />} />
            <Route path="/sources/:id" element={<SourcePage />} />
            <Route path="/profiles" element={<Profiles />} />
            <Route path="/profiles/:id" element={<ProfilePage />} />
            <Route path="/computed-traits" element={<ComputedTraits />} />
            <Route path="/computed-traits/new" element={<ComputedTraitPage />} />
            <Route path="/computed-traits/:key" element={<ComputedTraitPage />} />
            <Route path="/audiences" element={<Audiences />} />
            <Route path="/audiences/new" element={<AudienceBuilder />} />
            <Route path="/audiences/:key" element={<AudiencePage />} />
            <Route path="/destinations" element={<Destinations />} />
            <Route path="/destinations/:id" element={<DestinationPage />} />
            <Route path="/crm/contacts" element={<Contacts />} />
            <Route path="/crm/contacts/:id" element={<ContactPage />} />
            <Route path="/crm/import" element={<Import />} />
            <Route path="/crm/deals" element={<Deals />} />
            <Route path="/crm/deals/:id" element={<DealPage />} />
            <Route path="/crm/companies" element={<Companies />} />
            <Route path="/crm/companies/:id" element={<CompanyPage />} />
            <Route path="/crm/tasks" element={<Tasks />} />
            <Route path="/crm/tickets" element={<Tickets />} />
            <Route path="/crm/tickets/:id" element={<TicketPage />} />
            <Route path="/crm/reports" element={<Reports />} />
            <Route path="/settings/members" element={<Members />} />
            <Route path="/settings/roles" element={<Roles />} />
            <Route path="/settings/api-keys" element={<ApiKeys />} />
            <Route path="/settings/identity-rules" element={<IdentityRules />} />
            <Route path="/settings/privacy" element={<Privacy />} />
            <Route path="/settings/audit" element={<AuditLog />} />
            <Route path="/sign-in" element={<Navigate to="/" replace />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </Suspense>
      </Shell>
    </SessionProvider>
  );
}
