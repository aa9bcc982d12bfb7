// YAML text -> the plain values of its documents, as the `yaml` package
// reads them (the reference), by the fast path whenever that gives the same.
import jsyaml from 'js-yaml';
import { parseAllDocuments } from 'yaml';

/** One document of a YAML stream: its plain value, or why it has none. */
export type DocResult = { value: unknown } | { error: string };

/** The reference reading of a YAML stream (the `yaml` package): per-document
 *  errors, merge keys, alias limits. */
export function fullDocuments(text: string): DocResult[] {
  // YAML 1.1-style merge keys as Kubernetes accepts them; duplicate keys are
  // errors (which value was meant is unknowable).
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  return docs.map((doc): DocResult => {
    const error = doc.errors[0];
    if (error !== undefined) return { error: firstLine(error.message) };
    try {
      return { value: doc.toJS({ maxAliasCount: 100 }) };
    } catch (e) {
      return { error: firstLine(String(e)) };
    }
  });
}

/*
 * The fast path. The `yaml` package costs ~60 µs per small document (its
 * concrete syntax tree alone ~40 µs); js-yaml reads the same document in ~5
 * µs, which is what makes an initial sync of 100k pods fit in 2 s. js-yaml
 * gives the same objects only when (1) it resolves plain scalars as the YAML
 * 1.2 core schema of `yaml` does — hence CORE_AS_YAML, built from `yaml`'s
 * own rules, instead of js-yaml's YAML 1.1-flavoured default schema (`yes`,
 * `1_000`, timestamps, `0b1`) — and (2) the text uses none of the features
 * where the two differ: anchors and aliases (`yaml` limits their expansion),
 * tags, merge keys, complex or null keys, directives, `__proto__`. A text
 * that may use one of those, or that js-yaml refuses, is read by `yaml`, so
 * errors and odd documents are always reported as `yaml` reports them.
 */
/** One js-yaml type per tag (js-yaml keeps only the last type of a tag):
 *  the first rule whose pattern matches converts the scalar. `starts`: the
 *  characters a non-empty match can start with. Every plain scalar is tried
 *  against every type; most ("v1", "Pod", names) are ruled out by their first
 *  character without running a pattern. */
const scalarType = (tag: string, starts: string, rules: [RegExp, (s: string) => unknown][]): jsyaml.Type =>
  new jsyaml.Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    resolve: (data: unknown) =>
      typeof data === 'string' && (data === '' || starts.includes(data[0]!)) && rules.some(([re]) => re.test(data)),
    construct: (data: string) => {
      const rule = rules.find(([re]) => re.test(data));
      return rule === undefined ? data : rule[1](data);
    },
  });

// The patterns and conversions of `yaml`'s core schema (yaml/dist/schema/core, common/null).
const CORE_AS_YAML = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    scalarType('null', '~nN', [[/^(?:~|[Nn]ull|NULL)?$/, () => null]]),
    scalarType('bool', 'tTfF', [[/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T']]),
    scalarType('int', '+-0123456789', [
      [/^0o[0-7]+$/, (s) => parseInt(s.substring(2), 8)],
      [/^[-+]?[0-9]+$/, (s) => parseInt(s, 10)],
      [/^0x[0-9a-fA-F]+$/, (s) => parseInt(s.substring(2), 16)],
    ]),
    scalarType('float', '+-.0123456789', [
      [
        /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
        (s) => (s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY),
      ],
      [/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/, (s) => parseFloat(s)],
      [/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/, (s) => parseFloat(s)],
    ]),
  ],
});

/** Texts that may use a feature where js-yaml and `yaml` differ (false
 *  positives only cost speed): an anchor, alias or tag at the start of a
 *  token, a merge key, a complex or collection key, a directive, an empty or null key,
 *  `__proto__`. Lines that may continue: mayContinueLines. */
const NEEDS_FULL_PARSER = [
  /(?:^|[\s[{,])[&*!]/m,
  /<</,
  /(?:^|[\s[{,])\?(?:\s|$)/m,
  /^%/m,
  /(?:^|[\s[{,-])(?:~|null|Null|NULL)?:(?:\s|$)/m,
  /__proto__/,
  /[\]}]\s*:(?:\s|$)/m, // a flow collection as a key
];

/** True when some line may end inside a quoted scalar or a flow collection:
 *  js-yaml accepts continuation lines indented less than YAML allows (and
 *  `yaml` refuses), so such texts take the full parser. Counts per line: an
 *  odd number of either quote, or unbalanced brackets (false positives, such
 *  as an apostrophe in a comment, only cost speed). */
function mayContinueLines(text: string): boolean {
  let dq = 0;
  let sq = 0;
  let open = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 10;
    if (c === 10) {
      if (dq % 2 !== 0 || sq % 2 !== 0 || open !== 0) return true;
      dq = sq = open = 0;
    } else if (c === 34) dq++;
    else if (c === 39) sq++;
    else if (c === 91 || c === 123) open++;
    else if (c === 93 || c === 125) open--;
  }
  return false;
}

/** The documents of a plain text, or undefined when it needs the full parser. */
export function fastDocuments(text: string): DocResult[] | undefined {
  if (NEEDS_FULL_PARSER.some((re) => re.test(text)) || mayContinueLines(text)) return undefined;
  try {
    return jsyaml.loadAll(text, null, { schema: CORE_AS_YAML, json: false }).map((value) => ({ value }));
  } catch {
    return undefined; // the full parser says what is wrong, per document
  }
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0] ?? s;
}
