import { TBinaryProtocol, TCompactProtocol, TFramedTransport, Thrift, type TProtocol, type TProtocolConstructor } from './lib.js';
import { ErrorCodes, MonsoonError } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { chunkedFrameReader } from './frames.js';
import { FrameWriter } from './frame-writer.js';
import { FastBinaryProtocol, FastCompactProtocol } from './wire.js';

/**
 * Flume's ThriftSourceProtocol (idl/flume.thrift) encoded with the Apache Thrift library's own
 * protocol and framed-transport classes. This module only walks the IDL's structs field by field, as
 * compiler-generated code would; the library's protocol classes encode and decode every message,
 * struct, field and container (wire.ts only makes their primitive writers and varint reader cheap).
 */
const T = Thrift.Type;
const M = Thrift.MessageType;

export type WireProtocol = 'compact' | 'binary';

/** The IDL's `enum Status`. */
export const Status = { OK: 0, FAILED: 1, ERROR: 2, UNKNOWN: 3 } as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export const METHODS = ['append', 'appendBatch'] as const;
export type Method = (typeof METHODS)[number];

/** Flume's (and every Thrift library's) default upper bound for one frame. */
export const MAX_FRAME_BYTES = 16_384_000;

/** The library's protocol class for `p`, unmodified. */
export function protocolClass(p: WireProtocol): TProtocolConstructor {
  return p === 'compact' ? TCompactProtocol : TBinaryProtocol;
}

/** The library's protocol class for `p` with the allocation-free primitives of wire.ts. */
function fastClass(p: WireProtocol): TProtocolConstructor {
  return p === 'compact' ? FastCompactProtocol : FastBinaryProtocol;
}

function decodeError(message: string): MonsoonError {
  return new MonsoonError(ErrorCodes.SOURCE_DECODE, message);
}

function writeEvent(out: TProtocol, e: Event): void {
  out.writeStructBegin('ThriftFlumeEvent');
  out.writeFieldBegin('headers', T.MAP, 1);
  const h = e.headers;
  let n = 0;
  for (const _ in h) n++; // counted without building a key array per event
  out.writeMapBegin(T.STRING, T.STRING, n);
  for (const k in h) {
    out.writeString(k);
    out.writeString(h[k]!);
  }
  out.writeMapEnd();
  out.writeFieldEnd();
  out.writeFieldBegin('body', T.STRING, 2);
  out.writeBinary(e.body);
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
}

function readEvent(inp: TProtocol): Event {
  let headers: Record<string, string> | undefined;
  let body: Buffer | undefined;
  inp.readStructBegin();
  for (;;) {
    const f = inp.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 1 && f.ftype === T.MAP) {
      const m = inp.readMapBegin();
      headers = {};
      for (let i = 0; i < m.size; i++) {
        const k = inp.readString();
        headers[k] = inp.readString();
      }
      inp.readMapEnd();
    } else if (f.fid === 2 && f.ftype === T.STRING) {
      // a view into the call's frame, which is not reused: no copy per event
      body = inp.readBinary();
    } else {
      inp.skip(f.ftype);
    }
    inp.readFieldEnd();
  }
  inp.readStructEnd();
  if (headers === undefined) throw decodeError('ThriftFlumeEvent is missing its required field 1 (headers)');
  if (body === undefined) throw decodeError('ThriftFlumeEvent is missing its required field 2 (body)');
  return { headers, body };
}

/**
 * Runs `write` against a fresh protocol over a frame buffer and returns the complete frame: a view
 * of `writer`'s buffer when one is given (valid until its next use), else of a buffer of its own.
 */
function framed(p: WireProtocol, write: (out: TProtocol) => void, sizeHint?: number, writer?: FrameWriter): Buffer {
  const w = writer ?? new FrameWriter(sizeHint);
  if (writer) writer.reset(sizeHint);
  write(new (fastClass(p))(w));
  return w.frame();
}

/** Runs `write` as `framed` does but with the unmodified library transport and protocol. */
export function libraryFramed(p: WireProtocol, write: (out: TProtocol) => void): Buffer {
  let frame: Buffer | undefined;
  const out = new (protocolClass(p))(new TFramedTransport(undefined, (buf?: Buffer) => (frame = buf)));
  write(out);
  out.flush();
  if (!frame) throw new Error('thrift transport produced no frame');
  return frame;
}

/** A client's call: `append` carries one event, `appendBatch` a list. See `framed` for `writer`. */
export function encodeCall(p: WireProtocol, method: Method, seqid: number, events: readonly Event[], writer?: FrameWriter): Buffer {
  return framed(p, (out) => writeCall(out, method, seqid, events), sizeHint(events), writer);
}

function sizeHint(events: readonly Event[]): number {
  let n = 64;
  for (const e of events) n += e.body.length + 160;
  return n;
}

/** Writes a client's call message to `out`. */
export function writeCall(out: TProtocol, method: Method, seqid: number, events: readonly Event[]): void {
  out.writeMessageBegin(method, M.CALL, seqid);
  out.writeStructBegin(`${method}_args`);
  if (method === 'append') {
    out.writeFieldBegin('event', T.STRUCT, 1);
    writeEvent(out, events[0]!);
  } else {
    out.writeFieldBegin('events', T.LIST, 1);
    out.writeListBegin(T.STRUCT, events.length);
    for (const e of events) writeEvent(out, e);
    out.writeListEnd();
  }
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
}

export function encodeReply(p: WireProtocol, method: string, seqid: number, status: StatusCode): Buffer {
  return framed(p, (out) => writeReply(out, method, seqid, status));
}

export function writeReply(out: TProtocol, method: string, seqid: number, status: StatusCode): void {
  out.writeMessageBegin(method, M.REPLY, seqid);
  out.writeStructBegin(`${method}_result`);
  out.writeFieldBegin('success', T.I32, 0);
  out.writeI32(status);
  out.writeFieldEnd();
  out.writeFieldStop();
  out.writeStructEnd();
  out.writeMessageEnd();
}

/** A TApplicationException reply, e.g. for an unknown method name. */
export function encodeException(p: WireProtocol, method: string, seqid: number, type: number, message: string): Buffer {
  return framed(p, (out) => writeException(out, method, seqid, type, message));
}

export function writeException(out: TProtocol, method: string, seqid: number, type: number, message: string): void {
  out.writeMessageBegin(method, M.EXCEPTION, seqid);
  new Thrift.TApplicationException(type, message).write(out);
  out.writeMessageEnd();
}

export type Call = { method: Method; seqid: number; events: Event[] } | { method: string; seqid: number; unknown: true };

/** Reads one call message (header included) from `inp`. */
export function readCall(inp: TProtocol): Call {
  const msg = inp.readMessageBegin();
  if (msg.mtype !== M.CALL) throw decodeError(`expected a thrift CALL message, got message type ${msg.mtype}`);
  if (!(METHODS as readonly string[]).includes(msg.fname)) {
    inp.skip(T.STRUCT);
    inp.readMessageEnd();
    return { method: msg.fname, seqid: msg.rseqid, unknown: true };
  }
  const events: Event[] = [];
  inp.readStructBegin();
  for (;;) {
    const f = inp.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 1 && msg.fname === 'append' && f.ftype === T.STRUCT) {
      events.push(readEvent(inp));
    } else if (f.fid === 1 && msg.fname === 'appendBatch' && f.ftype === T.LIST) {
      const l = inp.readListBegin();
      for (let i = 0; i < l.size; i++) events.push(readEvent(inp));
      inp.readListEnd();
    } else {
      inp.skip(f.ftype);
    }
    inp.readFieldEnd();
  }
  inp.readStructEnd();
  inp.readMessageEnd();
  return { method: msg.fname as Method, seqid: msg.rseqid, events };
}

export interface Reply {
  seqid: number;
  status: number;
}

/** Reads one reply message; a thrift exception reply becomes a rejected-call error. */
export function readReply(inp: TProtocol): Reply {
  const msg = inp.readMessageBegin();
  if (msg.mtype === M.EXCEPTION) {
    const x = new Thrift.TApplicationException();
    x.read(inp);
    inp.readMessageEnd();
    throw new MonsoonError(ErrorCodes.SINK_REJECTED, `the collector answered ${msg.fname} with a thrift exception: ${x.message}`);
  }
  let status: number | undefined;
  inp.readStructBegin();
  for (;;) {
    const f = inp.readFieldBegin();
    if (f.ftype === T.STOP) break;
    if (f.fid === 0 && f.ftype === T.I32) status = inp.readI32();
    else inp.skip(f.ftype);
    inp.readFieldEnd();
  }
  inp.readStructEnd();
  inp.readMessageEnd();
  if (status === undefined) throw new MonsoonError(ErrorCodes.SINK_REJECTED, `the collector's ${msg.fname} reply carries no status`);
  return { seqid: msg.rseqid, status };
}

/**
 * Splits a byte stream into frames and hands each frame to `onFrame` as a protocol to read from (the
 * library's protocol class over a FrameChunks transport; see frames.ts), synchronously. Frames larger
 * than `maxLength` raise an error.
 */
export function frameReader(p: WireProtocol, maxLength: number, onFrame: (inp: TProtocol) => void): (data: Buffer) => void {
  const cls = fastClass(p);
  return chunkedFrameReader(maxLength, (t) => onFrame(new cls(t)));
}
