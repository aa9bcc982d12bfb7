// JSON whose text depends on the content only, not on insertion order.
import { byKey } from './order.js';

/** JSON with sorted object keys and Maps as sorted entry lists: equal content, equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Map) return byKey(v as Map<string, unknown>);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return Object.fromEntries(byKey(Object.entries(v)));
    return v;
  });
}
