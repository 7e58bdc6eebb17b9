import { RESP_TYPES } from 'redis';
import type { ConsumedRecord } from '../bus.js';

/**
 * How the Redis bus lays a topic out in keys, and how one record is stored as a stream entry.
 *
 *   <prefix>:<topic>              hash: partitions, retentionMs, retentionBytes, next.<p> (next offset)
 *   <prefix>:<topic>:<p>          stream of partition p; the entry of offset o has the ID `<o+1>-0`
 *   <prefix>::topics              set of topic names
 *   <prefix>::groups              set of group names that committed offsets
 *   <prefix>::group:<g>           hash: `<topic>/<p>` → committed offset
 *
 * Topic and group names cannot contain ':' (names.ts), so these never collide. An entry's fields:
 * `t` timestamp (ms), `v` value, `k` key (absent for a null key), `h` headers as JSON (absent when none).
 */
export const keys = {
  meta: (prefix: string, topic: string) => `${prefix}:${topic}`,
  stream: (prefix: string, topic: string, p: number) => `${prefix}:${topic}:${p}`,
  topics: (prefix: string) => `${prefix}::topics`,
  groups: (prefix: string) => `${prefix}::groups`,
  group: (prefix: string, group: string) => `${prefix}::group:${group}`,
  committedField: (topic: string, p: number) => `${topic}/${p}`,
};

/** Replies with bulk strings as Buffers (values and keys are binary). */
export const BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

/** Offset o is stored under stream ID `<o+1>-0`, so IDs are dense, monotonic and seekable. */
export const idOf = (offset: number) => `${offset + 1}-0`;
export const offsetOf = (id: Buffer | string) => {
  const s = id.toString();
  return Number(s.slice(0, s.indexOf('-'))) - 1;
};

export type RawEntry = [Buffer, Buffer[]];

export function decodeEntry(topic: string, partition: number, [id, fields]: RawEntry): ConsumedRecord {
  const r: ConsumedRecord = { topic, partition, offset: offsetOf(id), key: null, value: Buffer.alloc(0), headers: {}, timestamp: 0 };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const f = fields[i]!.toString();
    const v = fields[i + 1]!;
    if (f === 'v') r.value = v;
    else if (f === 'k') r.key = v;
    else if (f === 't') r.timestamp = Number(v.toString());
    else if (f === 'h') r.headers = JSON.parse(v.toString('utf8')) as Record<string, string>;
  }
  return r;
}

/**
 * Appends one partition's records atomically (a script runs alone). KEYS: meta, stream.
 * ARGV: partition, count, the partition count the caller assumed (a mismatch — the topic was re-created —
 * fails before writing), then per record: timestamp, value, key, hasKey ('1'/'0'), headers JSON ('' = none).
 * The next offset is the larger of the stored counter and the last entry's ID, so a script that
 * failed halfway (out of memory) never makes a later produce reuse an ID. Returns the base offset.
 */
export const PRODUCE_LUA = `
local parts = redis.call('HGET', KEYS[1], 'partitions')
if not parts then return redis.error_reply('MONSOON_UNKNOWN_TOPIC') end
if parts ~= ARGV[3] then return redis.error_reply('MONSOON_PARTITIONS ' .. parts) end
local field = 'next.' .. ARGV[1]
local base = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if last[1] then
  local ms = tonumber(string.match(last[1][1], '^(%d+)'))
  if ms > base then base = ms end
end
local n = tonumber(ARGV[2])
local a = 4
for i = 1, n do
  local args = {'XADD', KEYS[2], string.format('%d-0', base + i), 't', ARGV[a], 'v', ARGV[a + 1]}
  if ARGV[a + 3] == '1' then args[#args + 1] = 'k'; args[#args + 1] = ARGV[a + 2] end
  if ARGV[a + 4] ~= '' then args[#args + 1] = 'h'; args[#args + 1] = ARGV[a + 4] end
  redis.call(unpack(args))
  a = a + 5
end
redis.call('HSET', KEYS[1], field, string.format('%d', base + n))
return string.format('%d', base)
`;

/** KEYS: meta, topics set. ARGV: name, partitions, retentionMs, retentionBytes. */
export const CREATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('MONSOON_TOPIC_EXISTS') end
redis.call('HSET', KEYS[1], 'partitions', ARGV[2], 'retentionMs', ARGV[3], 'retentionBytes', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
`;
