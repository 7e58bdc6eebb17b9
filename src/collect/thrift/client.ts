import { connect, type Socket } from 'node:net';
import { ErrorCodes, MonsoonError, errorMessage } from '../../core/errors.js';
import type { Event } from '../../core/event.js';
import { encodeCall, frameReader, MAX_FRAME_BYTES, readReply, type WireProtocol } from './codec.js';
import { FrameWriter } from './frame-writer.js';

/** A frame buffer larger than this is not kept between calls. */
const KEEP_FRAME_BYTES = 32 * 1024 * 1024;

/** A failed call; `sent` tells whether the request may have reached the server (outcome unknown). */
export class ThriftCallError extends MonsoonError {
  constructor(
    code: typeof ErrorCodes.SINK_CONNECT | typeof ErrorCodes.SINK_TIMEOUT | typeof ErrorCodes.SINK_REJECTED,
    message: string,
    readonly sent: boolean,
    cause?: unknown,
  ) {
    super(code, message, { retriable: true, cause });
    this.name = 'ThriftCallError';
  }
}

interface Pending {
  seqid: number;
  resolve: (status: number) => void;
  reject: (err: ThriftCallError) => void;
  timer: NodeJS.Timeout;
}

/**
 * One framed-transport connection to a ThriftSourceProtocol server, with one call outstanding at a
 * time (as Flume's client). A timed-out or broken connection is closed, never reused: a late reply
 * must not be taken for the answer to the next call.
 */
export class ThriftClient {
  private socket: Socket | undefined;
  private pending: Pending | undefined;
  private seqid = 0;
  /**
   * Encodes every call; reused, since a call is only sent once the previous one was answered (the
   * collector has read all of its frame) or its connection was destroyed (nothing writes it anymore).
   */
  private writer: FrameWriter | undefined;
  openedAt = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly protocol: WireProtocol,
    private readonly onClose: () => void = () => {},
  ) {}

  get isOpen(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  private get peer(): string {
    return `${this.host}:${this.port}`;
  }

  connect(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      const fail = (msg: string, cause?: unknown) => {
        clearTimeout(timer);
        s.destroy();
        reject(new ThriftCallError(ErrorCodes.SINK_CONNECT, msg, false, cause));
      };
      const timer = setTimeout(() => fail(`connecting to thrift collector ${this.peer} timed out after ${timeoutMs} ms (connect-timeout)`), timeoutMs);
      s.once('error', (e) => fail(`cannot connect to thrift collector ${this.peer}: ${errorMessage(e)}`, e));
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        this.attach(s);
        resolve();
      });
    });
  }

  private attach(s: Socket): void {
    this.socket = s;
    this.openedAt = Date.now();
    s.setNoDelay(true);
    const read = frameReader(this.protocol, MAX_FRAME_BYTES, (inp) => {
      const p = this.pending;
      try {
        const reply = readReply(inp);
        if (!p || reply.seqid !== p.seqid) throw new Error(`unexpected reply (sequence id ${reply.seqid})`);
        this.settle();
        p.resolve(reply.status);
      } catch (err) {
        const e = err instanceof ThriftCallError ? err : new ThriftCallError(ErrorCodes.SINK_REJECTED, `bad reply from thrift collector ${this.peer}: ${errorMessage(err)}`, true, err);
        this.fail(e);
      }
    });
    s.on('data', (d: Buffer) => {
      try {
        read(d);
      } catch (err) {
        this.fail(new ThriftCallError(ErrorCodes.SINK_REJECTED, `invalid frame from thrift collector ${this.peer}: ${errorMessage(err)}`, true, err));
      }
    });
    s.on('error', () => {}); // reported through 'close'
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
      this.fail(new ThriftCallError(ErrorCodes.SINK_CONNECT, `thrift collector ${this.peer} closed the connection before answering`, true));
      this.onClose();
    });
  }

  /** Sends appendBatch and resolves with the collector's Status code. */
  appendBatch(events: readonly Event[], timeoutMs: number): Promise<number> {
    const s = this.socket;
    if (!s || s.destroyed) return Promise.reject(new ThriftCallError(ErrorCodes.SINK_CONNECT, `not connected to thrift collector ${this.peer}`, false));
    if (this.pending) return Promise.reject(new Error('a thrift call is already outstanding on this connection'));
    const seqid = (this.seqid = (this.seqid + 1) & 0x7fffffff);
    if (!this.writer || this.writer.buf.length > KEEP_FRAME_BYTES) this.writer = new FrameWriter();
    const frame = encodeCall(this.protocol, 'appendBatch', seqid, events, this.writer);
    if (frame.length - 4 > MAX_FRAME_BYTES) {
      const msg = `a batch of ${events.length} event(s) encodes to ${frame.length - 4} bytes, more than the ${MAX_FRAME_BYTES}-byte thrift frame limit of ${this.peer}; lower batch-size`;
      return Promise.reject(new ThriftCallError(ErrorCodes.SINK_REJECTED, msg, false));
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new ThriftCallError(ErrorCodes.SINK_TIMEOUT, `thrift collector ${this.peer} did not answer appendBatch within ${timeoutMs} ms (request-timeout)`, true)),
        timeoutMs,
      );
      this.pending = { seqid, resolve, reject, timer };
      s.write(frame);
    });
  }

  private settle(): Pending | undefined {
    const p = this.pending;
    if (p) clearTimeout(p.timer);
    this.pending = undefined;
    return p;
  }

  /** Rejects the outstanding call (if any) and closes the connection. */
  private fail(err: ThriftCallError): void {
    const p = this.settle();
    this.close();
    p?.reject(err);
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
  }
}
