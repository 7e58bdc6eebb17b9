/**
 * The SOURCE, SINK, SERDE and DATASOURCE classes StreamCQL statements may name, with the properties
 * each takes. Names and property keys are case-insensitive; a dotted name (a Java class path from an
 * existing StreamCQL script) is matched by its last segment. Analysis validates against this table;
 * the runtime implementations live with the compute tier.
 */

export type PropKind = 'string' | 'int' | 'bool' | 'url' | { enum: string[] };

export interface PropSpec {
  kind: PropKind;
  required?: boolean;
  /** Accepted for compatibility but unused; analysis warns with this text. */
  ignored?: string;
  doc: string;
}

export type ConnectorRole = 'source' | 'sink' | 'serde' | 'datasource';

export interface ConnectorSpec {
  name: string;
  role: ConnectorRole;
  aliases: string[];
  doc: string;
  props: Record<string, PropSpec>;
}

const kafkaCommon: Record<string, PropSpec> = {
  topic: { kind: 'string', required: true, doc: 'Kafka topic' },
  brokers: { kind: 'string', doc: 'bootstrap brokers host:port[,host:port…]' },
  zookeepers: { kind: 'string', ignored: 'Monsoon talks to Kafka brokers directly; set brokers instead', doc: 'ignored' },
  'zookeeper.connect': { kind: 'string', ignored: 'Monsoon talks to Kafka brokers directly; set brokers instead', doc: 'ignored' },
};

const timeUnits = { enum: ['DAYS', 'HOURS', 'MINUTES', 'SECONDS', 'MILLISECONDS', 'MICROSECONDS', 'NANOSECONDS'] };

export const CONNECTORS: ConnectorSpec[] = [
  {
    name: 'KafkaInput', role: 'source', aliases: ['KafkaSourceOp'], doc: 'reads a Kafka topic as a consumer group',
    props: { ...kafkaCommon, groupid: { kind: 'string', doc: 'consumer group id' }, frombeginning: { kind: 'bool', doc: 'start at the earliest offset when the group has none' } },
  },
  {
    name: 'RandomGen', role: 'source', aliases: ['RandomGenSourceOp'], doc: 'generates random rows of the stream schema',
    props: {
      timeunit: { kind: timeUnits, doc: 'unit of period' },
      period: { kind: 'int', doc: 'interval between bursts' },
      eventnumperperiod: { kind: 'int', doc: 'rows per burst' },
      isschedule: { kind: 'bool', doc: 'emit on the schedule (false: as fast as possible)' },
      totalnumber: { kind: 'int', doc: 'stop after this many rows (0: never)' },
      delaytime: { kind: 'int', doc: 'milliseconds to wait before the first row' },
    },
  },
  {
    name: 'TCPClientInput', role: 'source', aliases: ['TCPClientInputOperator'], doc: 'connects to a TCP server and reads rows',
    props: { server: { kind: 'string', required: true, doc: 'host' }, port: { kind: 'int', required: true, doc: 'port' } },
  },
  {
    name: 'BusInput', role: 'source', aliases: [], doc: 'reads a topic of any Monsoon bus given by URL (directory, redis://, kafka://, …)',
    props: { url: { kind: 'url', required: true, doc: 'bus URL' }, topic: { kind: 'string', required: true, doc: 'topic' }, group: { kind: 'string', doc: 'consumer group (default: the application name)' }, frombeginning: { kind: 'bool', doc: 'start at the earliest offset when the group has none' } },
  },
  {
    name: 'FileInput', role: 'source', aliases: [], doc: 'reads lines of a file (followed as it grows)',
    props: { path: { kind: 'string', required: true, doc: 'file path' }, frombeginning: { kind: 'bool', doc: 'read existing content first' } },
  },
  {
    name: 'KafkaOutput', role: 'sink', aliases: ['KafkaFunctionOp'], doc: 'writes rows to a Kafka topic',
    props: { ...kafkaCommon },
  },
  {
    name: 'ConsoleOutput', role: 'sink', aliases: ['ConsolePrintOp'], doc: 'prints rows to standard output',
    props: { printfrequence: { kind: 'int', doc: 'print one row in every N' } },
  },
  {
    name: 'TCPClientOutput', role: 'sink', aliases: ['TCPClientOutputOperator'], doc: 'connects to a TCP server and writes rows',
    props: { server: { kind: 'string', required: true, doc: 'host' }, port: { kind: 'int', required: true, doc: 'port' } },
  },
  {
    name: 'BusOutput', role: 'sink', aliases: [], doc: 'writes to a topic of any Monsoon bus given by URL',
    props: { url: { kind: 'url', required: true, doc: 'bus URL' }, topic: { kind: 'string', required: true, doc: 'topic' }, key: { kind: 'string', doc: 'column whose value is the record key' } },
  },
  {
    name: 'FileOutput', role: 'sink', aliases: [], doc: 'appends rows to rolled files',
    props: { path: { kind: 'string', required: true, doc: 'directory' }, rollinterval: { kind: 'int', doc: 'seconds per file (0: never roll on time)' } },
  },
  {
    name: 'KVOutput', role: 'sink', aliases: [], doc: 'writes rows to the embedded key-value store, keyed by a column',
    props: { path: { kind: 'string', required: true, doc: 'store directory' }, key: { kind: 'string', required: true, doc: 'key column' } },
  },
  {
    name: 'PostgresOutput', role: 'sink', aliases: [], doc: 'inserts rows into a PostgreSQL table',
    props: { url: { kind: 'url', required: true, doc: 'postgres:// connection URL' }, table: { kind: 'string', required: true, doc: 'table' } },
  },
  { name: 'SimpleSerDe', role: 'serde', aliases: [], doc: 'fields split by a separator', props: { separator: { kind: 'string', doc: 'field separator (default ,)' } } },
  { name: 'CsvSerDe', role: 'serde', aliases: [], doc: 'RFC 4180 CSV', props: {} },
  { name: 'KeyValueSerDe', role: 'serde', aliases: [], doc: 'key=value pairs', props: { separator: { kind: 'string', doc: 'pair separator (default ,)' }, kvseparator: { kind: 'string', doc: 'separator between key and value (default =)' } } },
  { name: 'JSON', role: 'serde', aliases: ['JsonSerDe'], doc: 'one JSON object per row, by column name', props: {} },
  {
    name: 'RDBDataSource', role: 'datasource', aliases: [], doc: 'one PostgreSQL query per event, cached',
    props: {
      url: { kind: 'url', required: true, doc: 'postgres:// connection URL' },
      username: { kind: 'string', doc: 'user' },
      password: { kind: 'string', doc: 'password' },
      cachesize: { kind: 'int', doc: 'cached query results (default 1000)' },
      cachettl: { kind: 'int', doc: 'seconds a cached result stays valid (default 60)' },
    },
  },
];

export function findConnector(role: ConnectorRole, cls: string): ConnectorSpec | undefined {
  const last = cls.includes('.') ? cls.slice(cls.lastIndexOf('.') + 1) : cls;
  const want = last.toLowerCase();
  return CONNECTORS.find((c) => c.role === role && (c.name.toLowerCase() === want || c.aliases.some((a) => a.toLowerCase() === want)));
}

export function connectorNames(role: ConnectorRole): string[] {
  return CONNECTORS.filter((c) => c.role === role).map((c) => c.name);
}

/**
 * The spec key a script's property key names: exact (case-insensitive) first, then without a
 * StreamCQL-style `operator.<kind>.` prefix (`operator.kafka.groupid` is `groupid`).
 */
export function propertyKey(spec: ConnectorSpec, key: string): string | undefined {
  const k = key.toLowerCase();
  if (spec.props[k]) return k;
  const m = /^operator\.[a-z0-9_]+\.(.+)$/.exec(k) ?? /^operator\.(.+)$/.exec(k);
  return m && spec.props[m[1]!] ? m[1] : undefined;
}

/** Checks one property value; returns the reason it is wrong, or undefined. */
export function checkValue(spec: PropSpec, value: string): string | undefined {
  const k = spec.kind;
  if (k === 'int') return /^\d+$/.test(value.trim()) ? undefined : `expects a whole number, got '${value}'`;
  if (k === 'bool') return /^(true|false)$/i.test(value.trim()) ? undefined : `expects true or false, got '${value}'`;
  if (k === 'url') return value.trim() === '' ? 'expects a URL or path, got an empty value' : undefined;
  if (typeof k === 'object') return k.enum.includes(value.trim().toUpperCase()) ? undefined : `expects one of ${k.enum.join(', ')}, got '${value}'`;
  return undefined;
}
