import { registerUnavailable } from '../core/config/component.js';

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
