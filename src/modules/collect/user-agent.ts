import { UAParser } from 'ua-parser-js';

export interface ParsedUserAgent {
  browser: { name?: string; version?: string };
  os: { name?: string; version?: string };
  device: { type?: string; vendor?: string; model?: string };
}

// Parsing costs tens of microseconds and a site sees few distinct agents: remember the recent ones.
const cache = new Map<string, ParsedUserAgent>();
const CACHE_SIZE = 2000;

export function parseUserAgent(userAgent: string): ParsedUserAgent {
  const hit = cache.get(userAgent);
  if (hit) return hit;
  const result = new UAParser(userAgent).getResult();
  const parsed: ParsedUserAgent = {
    browser: { name: result.browser.name, version: result.browser.version },
    os: { name: result.os.name, version: result.os.version },
    device: { type: result.device.type, vendor: result.device.vendor, model: result.device.model },
  };
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(userAgent, parsed);
  return parsed;
}
