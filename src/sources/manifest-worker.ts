// The manifest source's first scan reads and YAML-parses its files on this
// worker thread while the agent's thread does the rest (the lab file, the
// objects, the BPF objects' load): js-yaml is the largest part of a 100k-pod
// sync. What comes back is each file's digest and its documents' plain
// values as JSON text: JSON.parse on the agent's thread costs a fraction of
// the YAML reading, and the kind parsers (documents.ts) then build the
// objects there exactly as from a file read in place. A file the fast
// reading does not take, or whose values JSON cannot carry (NaN, infinities,
// -0), comes back as its text and is read in place.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { fastDocuments } from './yaml.js';

export interface ParseRequest {
  id: number;
  files: { key: string; abs: string }[];
}

export type ParsedFile =
  | { key: string; digest: string; empty: boolean; json: string }
  | { key: string; text: string }
  | { key: string; error: { code?: string; message: string } };

export interface ParseReply {
  id: number;
  files: ParsedFile[];
}

/** The manifest source's digest of a file's text (manifests.ts textDigest). */
export function textDigest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

/** True when JSON carries the value exactly (no NaN, infinity, -0 or undefined inside). */
function jsonExact(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (Array.isArray(v)) return v.every(jsonExact);
  if (typeof v === 'object') return Object.values(v as object).every(jsonExact);
  return false;
}

export function parseFile(key: string, abs: string): ParsedFile {
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { key, error: { ...(err.code !== undefined ? { code: err.code } : {}), message: err instanceof Error ? err.message : String(e) } };
  }
  const docs = fastDocuments(text);
  // Top-level null and undefined are the same to the parsers (an empty document).
  const values = docs?.map((d) => ('value' in d && d.value !== undefined ? d.value : null));
  if (values === undefined || !values.every(jsonExact)) return { key, text };
  return { key, digest: textDigest(text), empty: text === '', json: JSON.stringify(values) };
}

/** workerData of the worker ManifestSource starts (any other thread importing this module is left alone). */
export const WORKER_MARK = 'vrfwall-manifest-worker';

if (workerData === WORKER_MARK) {
  parentPort?.on('message', (req: ParseRequest) => {
    const reply: ParseReply = { id: req.id, files: req.files.map((f) => parseFile(f.key, f.abs)) };
    parentPort?.postMessage(reply);
  });
}
