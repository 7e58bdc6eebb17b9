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

/** One buffer for the whole batch: each body, plus '\n' when appendNewline. */
export function serializeText(events: readonly Event[], appendNewline: boolean): Buffer {
  if (!appendNewline) return Buffer.concat(events.map((e) => e.body));
  const parts: Buffer[] = [];
  const nl = Buffer.from('\n');
  for (const e of events) parts.push(e.body, nl);
  return Buffer.concat(parts);
}
