// Kubernetes label selectors, evaluated the way the API server does
// (k8s.io/apimachinery labels.Selector): every matchLabels pair and every
// matchExpressions requirement must hold; an empty selector selects all.
import type { LabelSelector, LabelSelectorRequirement } from './types.js';

export const EMPTY_SELECTOR: LabelSelector = { matchLabels: {}, matchExpressions: [] };

/** Does `labels` satisfy `selector`? */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return selector.matchExpressions.every((r) => requirementHolds(r, labels));
}

/** Service-style equality selector (spec.selector: a plain map). */
export function mapSelectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}

function requirementHolds(r: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      return has && r.values.includes(labels[r.key] as string);
    case 'NotIn':
      // As in Kubernetes: a missing key satisfies NotIn.
      return !has || !r.values.includes(labels[r.key] as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** Human-readable form for logs and problems, e.g. "vn=web,tier in (a,b)". */
export function selectorText(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions) {
    if (r.operator === 'Exists') parts.push(r.key);
    else if (r.operator === 'DoesNotExist') parts.push(`!${r.key}`);
    else parts.push(`${r.key} ${r.operator === 'In' ? 'in' : 'notin'} (${r.values.join(',')})`);
  }
  return parts.length === 0 ? '<everything>' : parts.join(',');
}
