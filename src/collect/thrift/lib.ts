import { createRequire } from 'node:module';
import type * as ThriftModule from 'thrift';

/**
 * The parts of the Apache Thrift library (npm `thrift`) that Monsoon uses: its core types, the
 * compact and binary protocols and the framed transport. Loaded from the library's own files rather
 * than its index, which would also load its HTTP, WebSocket and XHR clients and servers (and their
 * dependencies) at every agent start.
 */
const require = createRequire(import.meta.url);
const LIB = 'thrift/lib/nodejs/lib/thrift/';

export const Thrift = require(`${LIB}thrift.js`) as typeof ThriftModule.Thrift;
export const TCompactProtocol = require(`${LIB}compact_protocol.js`) as typeof ThriftModule.TCompactProtocol;
export const TBinaryProtocol = require(`${LIB}binary_protocol.js`) as typeof ThriftModule.TBinaryProtocol;
export const TFramedTransport = require(`${LIB}framed_transport.js`) as typeof ThriftModule.TFramedTransport;
/** The error the library's transports throw when a frame ends before the value being read. */
export const InputBufferUnderrunError = require(`${LIB}input_buffer_underrun_error.js`) as new (message?: string) => Error;
export type { TProtocol, TProtocolConstructor, TTransport } from 'thrift';
