/**
 * mulberry32: small, fast and the same on every machine, so one seed always gives the same data: the demo's,
 * and the generated populations of the tests and benchmarks.
 */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    /** An integer in [min, max]. */
    between: (min: number, max: number) => min + int(max - min + 1),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    /** An item drawn by weight: `[item, weight]` pairs. */
    weighted: <T>(items: readonly (readonly [T, number])[]): T => {
      let left = next() * items.reduce((sum, [, w]) => sum + w, 0);
      for (const [item, w] of items) if ((left -= w) < 0) return item;
      return items[items.length - 1]![0];
    },
  };
}

export type Random = ReturnType<typeof prng>;
