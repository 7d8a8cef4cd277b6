/** Shapes of the CRM API the screens share. */
export interface Contact {
  id: string;
  name: string | null;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  title: string | null;
  companyIds: string[];
  ownerId: string | null;
  lifecycleStage: string | null;
  custom: Record<string, unknown>;
  computedTraits: Record<string, unknown>;
  audiences: string[];
  createdAt: string;
  version: number;
}

export interface Stage {
  id: string;
  name: string;
  position: number;
  probability: number;
  outcome: 'open' | 'won' | 'lost';
}

export interface Pipeline {
  id: string;
  name: string;
  stages: Stage[];
}

export interface Deal {
  id: string;
  name: string;
  pipelineId: string;
  stageId: string;
  status: 'open' | 'won' | 'lost';
  amount: number | null;
  currency: string;
  closeDate: string | null;
  ownerId: string | null;
  contactIds: string[];
  companyId: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface Activity {
  id: string;
  kind: 'note' | 'call' | 'email' | 'meeting';
  subject: string | null;
  body: string | null;
  occurredAt: string;
  durationSeconds: number | null;
  direction: string | null;
  outcome: string | null;
}

export interface SavedView {
  id: string;
  object: string;
  name: string;
  query: Record<string, string | number>;
}

export const LIFECYCLE_STAGES = ['subscriber', 'lead', 'marketing_qualified_lead', 'sales_qualified_lead', 'opportunity', 'customer', 'evangelist', 'other'];

export const stageLabel = (stage: string) => stage.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());

/** The ETag the CRM gives a record: send it as If-Match so a change made meanwhile is refused, not overwritten. */
export const etagOf = (record: { id: string; version: number }) => `"${record.id}.${record.version}"`;

export const contactName = (c: Pick<Contact, 'name' | 'firstName' | 'lastName' | 'email' | 'id'>) =>
  c.name ?? ([c.firstName, c.lastName].filter(Boolean).join(' ') || c.email || c.id);
