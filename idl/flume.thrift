/*
 * Flume's ThriftSourceProtocol wire contract, as documented for Flume's Thrift source and sink.
 * Monsoon's thrift source and sink speak this over framed transport with the compact (default) or
 * binary protocol; the java namespace matches real Flume peers so generated clients interoperate.
 */
namespace java org.apache.flume.thrift
namespace py flume

struct ThriftFlumeEvent {
  1: required map<string, string> headers,
  2: required binary body,
}

enum Status {
  OK,
  FAILED,
  ERROR,
  UNKNOWN
}

service ThriftSourceProtocol {
  Status append(1: ThriftFlumeEvent event),
  Status appendBatch(1: list<ThriftFlumeEvent> events),
}
