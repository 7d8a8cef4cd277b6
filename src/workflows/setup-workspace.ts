import type { AccessService } from '../modules/access/index.js';
import type { AuditEntry } from '../modules/audit/index.js';
import type { CollectService } from '../modules/collect/index.js';

export interface SetupInput {
  workspace: string;
  email: string;
  password: string;
  sourceName?: string;
}

export interface SetupResult {
  workspaceId: string;
  workspaceCreated: boolean;
  ownerEmail: string;
  sourceId: string;
  writeKey: string;
  apiKey: string;
}

export interface SetupDeps {
  access: AccessService;
  collect: CollectService;
  /** Where the setup is recorded in the workspace's audit log, and as whom (`rapport setup` is `system` `cli`). */
  audit?: { record(entry: AuditEntry): Promise<void>; actor: AuditEntry['actor'] };
}

/** The workspace, its owner (the user row) and a first source, each only if absent. */
export async function setupOwner({ access, collect }: { access: AccessService; collect: CollectService }, input: SetupInput) {
  // A refused owner password must not leave a workspace without an owner behind.
  await access.assertNewMemberPassword(input.email, input.password);
  const { workspace, created } = await access.ensureWorkspace(input.workspace);
  const owner = await access.ensureMember(workspace.id, input.email, input.password, 'owner');
  const sourceName = input.sourceName ?? 'Website';
  const existing = await collect.sourceByName(workspace.id, sourceName);
  const source = existing ?? (await collect.createSource(workspace.id, { name: sourceName, type: 'website' }));
  return { workspace, created, owner, source, sourceCreated: !existing };
}

/**
 * First run from the command line: setupOwner, and an owner's API key. Running it again changes nothing but
 * mint a fresh API key (keys are stored hashed and cannot be shown twice).
 */
export async function setupWorkspace({ access, collect, audit }: SetupDeps, input: SetupInput): Promise<SetupResult> {
  const { workspace, created, owner, source, sourceCreated } = await setupOwner({ access, collect }, input);
  const { key, apiKey } = await access.createApiKey(workspace.id, `setup ${new Date().toISOString().slice(0, 10)}`, 'owner');
  if (audit) {
    const base = { workspaceId: workspace.id, actor: audit.actor, status: 200 };
    await audit.record({
      ...base, action: 'workspace.setup', target: { type: 'workspace', id: workspace.id },
      change: { workspaceCreated: created, ownerId: owner.id, sourceId: source.id, sourceCreated },
    });
    await audit.record({ ...base, action: 'api_key.create', target: { type: 'api_key', id: apiKey.id }, change: { name: apiKey.name, role: apiKey.role } });
  }
  return { workspaceId: workspace.id, workspaceCreated: created, ownerEmail: owner.email, sourceId: source.id, writeKey: source.writeKey, apiKey: key };
}
