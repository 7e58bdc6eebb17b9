import type { Event } from '../../core/event.js';

/**
 * Event serializers shared by the file-writing sinks. Only Flume's TEXT serializer (the body,
 * optionally followed by a newline) exists so far; the others are named with a clear error.
 */
export const TEXT_SERIALIZERS = ['text', 'org.apache.flume.serialization.bodytexteventserializer$builder'];
const NOT_YET = ['avro_event', 'org.apache.flume.serialization.flumeeventavroeventserializer$builder', 'header_and_text', 'org.apache.flume.serialization.headerandbodytexteventserializer$builder'];

/** A config check message for the serializer name, or undefined when it is supported. */
export function checkSerializer(name: string): string | undefined {
  const n = name.trim().toLowerCase();
  if (TEXT_SERIALIZERS.includes(n)) return undefined;
  if (NOT_YET.includes(n)) return `serializer "${name}" is not supported yet; use TEXT`;
  return `unknown serializer "${name}"; use TEXT`;
}

/**
 * One buffer for the whole batch: each body, plus '\n' when appendNewline. The bytes are a view of
 * the buffer `alloc` returns for their size (at least that large), so a sink can reuse one buffer.
 */
export function serializeText(events: readonly Event[], appendNewline: boolean, alloc: (size: number) => Buffer = (n) => Buffer.allocUnsafe(n)): Buffer {
  let size = 0;
  for (const e of events) size += e.body.length;
  if (appendNewline) size += events.length;
  const out = alloc(size);
  let off = 0;
  for (const e of events) {
    off += e.body.copy(out, off);
    if (appendNewline) out[off++] = 0x0a;
  }
  return out.subarray(0, off);
}
