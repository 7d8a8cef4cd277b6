import { describe, expect, it } from 'vitest';
import { hasLoneSurrogate, jsonDepthOver } from './json-limits.js';

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

describe('hasLoneSurrogate', () => {
  it('finds a lone half in a string or a key at any depth, and passes real pairs', () => {
    expect(hasLoneSurrogate({ a: [{ b: 'x\uD800' }] })).toBe(true);
    expect(hasLoneSurrogate({ a: { '\uDC00': 1 } })).toBe(true);
    expect(hasLoneSurrogate({ a: ['😀', 'é'] })).toBe(false);
  });
});
