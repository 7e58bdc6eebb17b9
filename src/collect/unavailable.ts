import { registerUnavailable } from '../core/config/component.js';

/**
 * Flume components whose Monsoon tier is not built yet. Naming them gives a clear error instead of an
 * "unknown type" guess, and a config that uses them is never run with the component silently missing.
 */
const STORE = 'not built yet; use kv (the embedded key-value store, HBase\'s model), postgres, clickhouse, hdfs or file_roll';
registerUnavailable('sink', ['asynchbase', 'org.apache.flume.sink.hbase.AsyncHBaseSink'], STORE);
registerUnavailable('sink', ['elasticsearch', 'org.apache.flume.sink.elasticsearch.ElasticSearchSink', 'hive', 'org.apache.flume.sink.hive.HiveSink', 'morphline_solr', 'org.apache.flume.sink.solr.morphline.MorphlineSolrSink'], STORE);
registerUnavailable('channel', ['jdbc', 'org.apache.flume.channel.jdbc.JdbcChannel'], 'use the file channel for durability');
registerUnavailable('channel', ['spillablememory', 'org.apache.flume.channel.SpillableMemoryChannel'], 'use the file channel (durable) or the memory channel (fast)');
registerUnavailable('source', ['jms', 'org.apache.flume.source.jms.JMSSource', 'scribe', 'org.apache.flume.source.scribe.ScribeSource'], 'not built; send through thrift, http or a file source instead');
registerUnavailable('sink', ['irc', 'org.apache.flume.sink.irc.IRCSink', 'http', 'org.apache.flume.sink.http.HttpSink'], 'not built yet');
registerUnavailable('interceptor', ['morphline', 'org.apache.flume.sink.solr.morphline.MorphlineInterceptor$Builder'], 'morphlines are Java-only; use regex_extractor or search_replace');

/**
 * Flume's avro source and sink speak Avro IPC over Avro's Netty transport (NettyTransportCodec), whose
 * framing (serial, buffer count, length-prefixed buffers) and per-connection handshake differ from
 * the Avro specification's message framing that Node Avro libraries implement. Until that transport
 * is built, configs naming them fail with a clear message instead of being ignored.
 */
const reason =
  'Flume\'s Avro RPC (Avro IPC over the Netty transport) is not built yet; use type = thrift on both ends ' +
  '(Flume\'s ThriftSink/ThriftSource speak it too, and Monsoon\'s thrift source drops replayed batches)';

registerUnavailable('source', ['avro', 'org.apache.flume.source.AvroSource'], reason);
registerUnavailable('sink', ['avro', 'org.apache.flume.sink.AvroSink'], reason);
