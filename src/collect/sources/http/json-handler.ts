import type { Event } from '../../../core/event.js';

/**
 * Flume's JSONHandler request format: a JSON array of events, each `{"headers": {...}, "body": "..."}`.
 * Header values and the body are strings (numbers and booleans are taken as their text, as Gson
 * does); the body is encoded back to bytes in the request's charset (UTF-8 unless Content-Type says
 * otherwise). Problems are reported as BadRequest with a message naming the event and field.
 */
export class BadRequest extends Error {}

const CHARSETS: Record<string, BufferEncoding> = { 'utf-8': 'utf8', utf8: 'utf8', 'iso-8859-1': 'latin1', latin1: 'latin1', 'us-ascii': 'latin1' };

export function requestCharset(contentType: string | undefined): BufferEncoding {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  if (!m) return 'utf8';
  const enc = CHARSETS[m[1]!.toLowerCase()];
  if (!enc) throw new BadRequest(`charset ${m[1]} is not supported; use UTF-8 or ISO-8859-1`);
  return enc;
}

function asText(v: unknown, where: string): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new BadRequest(`${where} must be a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
}

export function parseJsonEvents(raw: Buffer, enc: BufferEncoding): Event[] {
  const text = raw.toString(enc);
  if (text.trim() === '') return [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BadRequest(`request body is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) {
    throw new BadRequest(`request body must be a JSON array of events like [{"headers": {}, "body": "..."}], got ${doc === null ? 'null' : typeof doc}`);
  }
  return doc.map((item: unknown, i): Event => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new BadRequest(`event ${i} must be an object with "headers" and "body"`);
    const { headers: h, body: b } = item as { headers?: unknown; body?: unknown };
    const headers: Record<string, string> = {};
    if (h !== undefined && h !== null) {
      if (typeof h !== 'object' || Array.isArray(h)) throw new BadRequest(`event ${i}: headers must be an object of strings`);
      for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
        const s = asText(v, `event ${i}: headers.${k}`);
        if (s !== undefined) headers[k] = s;
      }
    }
    return { headers, body: Buffer.from(asText(b, `event ${i}: body`) ?? '', enc) };
  });
}
