import { Text } from '@mantine/core';

interface GraphIdentifier {
  type: string;
  value: string;
  reason: { kind: string; fromProfileId?: string; linkedBy?: string };
}

const W = 520;
const H = 300;
const CX = W / 2;
const CY = H / 2;

const short = (text: string, n = 18) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/**
 * The profile at the centre, each profile merged into it around it, and every identifier joined to the
 * profile that brought it: what the merge log says, as a picture (the table beside it says it in words).
 */
export function IdentityGraph({ identifiers }: { identifiers: GraphIdentifier[] }) {
  const merged = [...new Set(identifiers.map((i) => i.reason.fromProfileId).filter((id): id is string => Boolean(id)))];
  const hubs = new Map<string, { x: number; y: number }>();
  merged.forEach((id, i) => {
    const angle = Math.PI / 2 + (2 * Math.PI * i) / Math.max(merged.length, 1) + Math.PI / 4;
    hubs.set(id, { x: CX + Math.cos(angle) * 95, y: CY + Math.sin(angle) * 60 });
  });
  const nodes = identifiers.map((identifier, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / identifiers.length;
    const from = identifier.reason.fromProfileId ? hubs.get(identifier.reason.fromProfileId)! : { x: CX, y: CY };
    return { identifier, x: CX + Math.cos(angle) * 180, y: CY + Math.sin(angle) * 118, from };
  });
  const summary = `${identifiers.length} identifiers; ${merged.length} profile${merged.length === 1 ? '' : 's'} merged in.`;
  return (
    <div>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={`Identity graph: ${summary}`} style={{ maxHeight: 320 }}>
        {[...hubs.values()].map((hub, i) => <line key={`h${i}`} x1={CX} y1={CY} x2={hub.x} y2={hub.y} stroke="#e8590c" strokeWidth={2} strokeDasharray="5 3" />)}
        {nodes.map((n, i) => <line key={`e${i}`} x1={n.from.x} y1={n.from.y} x2={n.x} y2={n.y} stroke={n.identifier.reason.kind === 'merge' ? '#e8590c' : '#1864ab'} strokeWidth={1.5} />)}
        {[...hubs.entries()].map(([id, hub]) => (
          <g key={id}>
            <title>{`Profile ${id}, merged into this one`}</title>
            <circle cx={hub.x} cy={hub.y} r={14} fill="#fff4e6" stroke="#e8590c" strokeWidth={2} />
            <text x={hub.x} y={hub.y + 28} textAnchor="middle" fontSize={10} fill="#495057">merged {id.slice(0, 8)}</text>
          </g>
        ))}
        <circle cx={CX} cy={CY} r={20} fill="#1864ab" />
        <text x={CX} y={CY + 4} textAnchor="middle" fontSize={11} fill="#fff" fontWeight={700}>profile</text>
        {nodes.map((n, i) => (
          <g key={`n${i}`}>
            <title>{`${n.identifier.type} ${n.identifier.value}: ${n.identifier.reason.linkedBy ?? (n.identifier.reason.kind === 'event' ? 'seen on an event of this profile' : n.identifier.reason.kind)}`}</title>
            <rect x={n.x - 62} y={n.y - 17} width={124} height={34} rx={6} fill="#fff" stroke={n.identifier.reason.kind === 'merge' ? '#e8590c' : '#1864ab'} />
            <text x={n.x} y={n.y - 3} textAnchor="middle" fontSize={9} fill="#495057">{n.identifier.type}</text>
            <text x={n.x} y={n.y + 10} textAnchor="middle" fontSize={11} fill="#212529" fontFamily="monospace">{short(n.identifier.value)}</text>
          </g>
        ))}
      </svg>
      <Text size="xs" c="dimmed">{summary} Blue: seen on this profile's events; orange: came with a merged profile.</Text>
    </div>
  );
}
