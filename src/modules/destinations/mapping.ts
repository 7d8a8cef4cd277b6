import { readPath } from '../audiences/index.js';
import type { MappingStep } from './definition.js';

type Json = Record<string, unknown>;

/** Keys that must never become paths: a mapping writes data, not prototypes. */
const UNSAFE = new Set(['__proto__', 'prototype', 'constructor']);

/**
 * Applies the mapping's steps in order to a copy of the message. Paths descend through objects; `set`,
 * `rename` and `template` create the objects they need. A `{{path}}` placeholder renders the value at that
 * path (objects as JSON, missing as empty).
 */
export function applyMapping(message: Json, steps: MappingStep[] | undefined): Json {
  if (!steps?.length) return message;
  const out = structuredClone(message);
  for (const step of steps) {
    switch (step.op) {
      case 'drop':
        remove(out, step.path);
        break;
      case 'set':
        write(out, step.path, structuredClone(step.value));
        break;
      case 'rename': {
        if (unsafe(step.from) || unsafe(step.to)) break;
        const value = readPath(out, step.from);
        if (value === undefined) break;
        remove(out, step.from);
        write(out, step.to, value);
        break;
      }
      case 'template':
        write(out, step.path, render(step.template, out));
        break;
    }
  }
  return out;
}

export function render(template: string, message: Json): string {
  return template.replace(/\{\{\s*([^{}\s]+)\s*\}\}/g, (_, path: string) => {
    const value = readPath(message, path);
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

const unsafe = (path: string) => path.split('.').some((k) => UNSAFE.has(k));

function write(root: Json, path: string, value: unknown): void {
  if (unsafe(path)) return;
  const keys = path.split('.');
  let at = root;
  for (const key of keys.slice(0, -1)) {
    const next = Object.hasOwn(at, key) ? at[key] : undefined;
    if (next === null || typeof next !== 'object' || Array.isArray(next)) at[key] = {};
    at = at[key] as Json;
  }
  at[keys[keys.length - 1]] = value;
}

function remove(root: Json, path: string): void {
  const keys = path.split('.');
  let at: unknown = root;
  for (const key of keys.slice(0, -1)) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return;
    at = (at as Json)[key];
  }
  if (at !== null && typeof at === 'object') delete (at as Json)[keys[keys.length - 1]];
}
