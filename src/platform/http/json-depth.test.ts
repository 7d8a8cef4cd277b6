import { describe, expect, it } from 'vitest';
import { jsonDepthOver } from './json-depth.js';

describe('jsonDepthOver', () => {
  it('counts objects and arrays alike', () => {
    expect(jsonDepthOver('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(jsonDepthOver('{"a":[{"b":[[]]}]}', 4)).toBe(true);
  });

  it('ignores brackets and escaped quotes inside strings', () => {
    expect(jsonDepthOver('{"a":"[[[[{{{{\\"[[[["}', 1)).toBe(false);
    expect(jsonDepthOver('["\\\\",[]]', 1)).toBe(true);
  });

  it('counts siblings once, not their sum', () => {
    expect(jsonDepthOver('[[],[],[],[]]', 2)).toBe(false);
  });
});
