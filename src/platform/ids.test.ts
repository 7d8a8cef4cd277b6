import { describe, expect, it } from 'vitest';
import { timeOrderedUuid } from './ids.js';

describe('time-ordered UUIDs (version 7)', () => {
  it('are UUIDs of version 7 and RFC variant, with the time in their first 48 bits', () => {
    const at = Date.UTC(2026, 10, 25, 1, 2, 3, 456);
    const id = timeOrderedUuid(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
  });

  it('sort by the millisecond they were made in, and do not repeat', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => timeOrderedUuid(1_795_000_000_000 + Math.floor(i / 100)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 100; i < ids.length; i += 100) expect(ids[i - 1] < ids[i]).toBe(true);
    expect(timeOrderedUuid() > timeOrderedUuid(Date.now() - 1)).toBe(true);
  });
});
