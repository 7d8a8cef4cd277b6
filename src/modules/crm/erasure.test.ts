import { describe, expect, it } from 'vitest';
import { scrub } from './erasure.js';

describe('erasing a person\'s values from free text', () => {
  it('replaces whole words in any case, the longest value first', () => {
    expect(scrub('Call Zoe Quarrington (zoe@x.org) about ZOE\'s order', ['Zoe', 'Zoe Quarrington', 'zoe@x.org'])).toBe('Call [erased] ([erased]) about [erased]\'s order');
  });
  it('leaves words that merely contain a value', () => {
    expect(scrub('Zoey and Chloe met Zoe', ['Zoe'])).toBe('Zoey and Chloe met [erased]');
  });
  it('treats values as text, not patterns', () => {
    expect(scrub('+1 (415) 555-0181 or +14155550181', ['+14155550181', '(415)'])).toBe('+1 [erased] 555-0181 or [erased]');
  });
});
