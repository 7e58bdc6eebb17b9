import type * as ThriftModule from 'thrift';
// The library's own files, as CommonJS default imports (declared in thrift-files.d.ts).
import thriftCore from 'thrift/lib/nodejs/lib/thrift/thrift.js';
import compactProtocol from 'thrift/lib/nodejs/lib/thrift/compact_protocol.js';
import binaryProtocol from 'thrift/lib/nodejs/lib/thrift/binary_protocol.js';
import framedTransport from 'thrift/lib/nodejs/lib/thrift/framed_transport.js';
import underrunError from 'thrift/lib/nodejs/lib/thrift/input_buffer_underrun_error.js';

/**
 * The parts of the Apache Thrift library (npm `thrift`) that Monsoon uses: its core types, the
 * compact and binary protocols and the framed transport. Imported from the library's own files
 * rather than its index, which would also load its HTTP, WebSocket and XHR clients and servers (and
 * their dependencies) at every agent start; static imports, so that the agent's bundle
 * (scripts/bundle.mjs) carries them instead of resolving and compiling them from node_modules at start.
 */
export const Thrift = thriftCore as typeof ThriftModule.Thrift;
export const TCompactProtocol = compactProtocol as typeof ThriftModule.TCompactProtocol;
export const TBinaryProtocol = binaryProtocol as typeof ThriftModule.TBinaryProtocol;
export const TFramedTransport = framedTransport as typeof ThriftModule.TFramedTransport;
/** The error the library's transports throw when a frame ends before the value being read. */
export const InputBufferUnderrunError = underrunError as new (message?: string) => Error;
export type { TProtocol, TProtocolConstructor, TTransport } from 'thrift';
