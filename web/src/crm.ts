/** Shapes of the CRM API the screens share. */
/** An audience a contact or company is in, as the CRM API lists it. */
export interface AudienceMembership {
  id: string;
  key: string;
  name: string;
  enteredAt: string;
}

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
  audiences: AudienceMembership[];
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
  custom: Record<string, unknown>;
  closedAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface StageChange {
  fromStageId: string | null;
  toStageId: string;
  at: string;
  actor: string | null;
}

export interface Company {
  id: string;
  name: string | null;
  domain: string | null;
  industry: string | null;
  employees: number | null;
  contactIds: string[];
  ownerId: string | null;
  custom: Record<string, unknown>;
  computedTraits: Record<string, unknown>;
  audiences: AudienceMembership[];
  createdAt: string;
  version: number;
}

export type Priority = 'low' | 'normal' | 'high' | 'urgent';
export const PRIORITIES: Priority[] = ['low', 'normal', 'high', 'urgent'];
export const PRIORITY_COLOR: Record<Priority, string> = { low: 'gray', normal: 'blue', high: 'orange', urgent: 'red' };

/** The records a task or an activity is about. */
export interface Associations {
  contactIds: string[];
  companyIds: string[];
  dealIds: string[];
  ticketIds: string[];
}

export interface Task extends Associations {
  id: string;
  title: string;
  body: string | null;
  dueAt: string | null;
  assigneeId: string | null;
  status: 'open' | 'in_progress' | 'done' | 'cancelled';
  priority: Priority;
  overdue: boolean;
  completedAt: string | null;
  createdAt: string;
  version: number;
}

export type TicketStatus = 'new' | 'open' | 'pending' | 'resolved' | 'closed';
export const TICKET_STATUSES: TicketStatus[] = ['new', 'open', 'pending', 'resolved', 'closed'];
export const TICKET_STATUS_COLOR: Record<TicketStatus, string> = { new: 'blue', open: 'cyan', pending: 'yellow', resolved: 'green', closed: 'gray' };

export interface Ticket {
  id: string;
  subject: string;
  description: string | null;
  status: TicketStatus;
  priority: Priority;
  channel: string;
  assigneeId: string | null;
  contactId: string | null;
  companyId: string | null;
  custom: Record<string, unknown>;
  sla: {
    firstResponseDueAt: string;
    firstRespondedAt: string | null;
    firstResponseBreached: boolean;
    resolutionDueAt: string;
    resolvedAt: string | null;
    resolutionBreached: boolean;
  };
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** A custom field a workspace defined on an object (GET /crm/fields/:object). */
export interface FieldDefinition {
  key: string;
  label: string;
  type: string;
  required?: boolean;
  options?: { value: string; label?: string }[];
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

/** A company's name, else its domain, else its id. */
export const companyName = (c: Pick<Company, 'name' | 'domain' | 'id'>) => c.name ?? c.domain ?? c.id;

export const contactName = (c: Pick<Contact, 'name' | 'firstName' | 'lastName' | 'email' | 'id'>) =>
  c.name ?? ([c.firstName, c.lastName].filter(Boolean).join(' ') || c.email || c.id);
