import type { AccessService } from '../modules/access/index.js';
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

/**
 * First run: the workspace, its owner and a first source, each only if absent, so running it again
 * changes nothing but mint a fresh API key (keys are stored hashed and cannot be shown twice).
 */
export async function setupWorkspace({ access, collect }: { access: AccessService; collect: CollectService }, input: SetupInput): Promise<SetupResult> {
  // A refused owner password must not leave a workspace without an owner behind.
  await access.assertNewMemberPassword(input.email, input.password);
  const { workspace, created } = await access.ensureWorkspace(input.workspace);
  const owner = await access.ensureMember(workspace.id, input.email, input.password, 'owner');
  const sourceName = input.sourceName ?? 'Website';
  const source = (await collect.sourceByName(workspace.id, sourceName)) ?? (await collect.createSource(workspace.id, { name: sourceName, type: 'website' }));
  const { key } = await access.createApiKey(workspace.id, `setup ${new Date().toISOString().slice(0, 10)}`, 'owner');
  return { workspaceId: workspace.id, workspaceCreated: created, ownerEmail: owner.email, sourceId: source.id, writeKey: source.writeKey, apiKey: key };
}
