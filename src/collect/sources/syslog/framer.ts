/**
 * Syslog over TCP framing (RFC 6587), decided per message by its first byte:
 *   octet counting:          MSG-LEN SP SYSLOG-MSG      (MSG-LEN = digits; a message starts with '<')
 *   non-transparent framing: SYSLOG-MSG LF              (a trailing CR is dropped)
 * A message longer than `max` bytes is handed on in pieces of at most `max` bytes, the first marked
 * incomplete, so memory stays bounded and no byte is dropped.
 */
export type FrameSink = (frame: Buffer, piece: 'whole' | 'first' | 'more') => void;

const MAX_DIGITS = 9;

export class SyslogFramer {
  private parts: Buffer[] = [];
  private len = 0;
  private mode: 'start' | 'count' | 'octets' | 'line' = 'start';
  private digits = '';
  private remaining = 0;
  private pieces = 0;

  constructor(
    private readonly max: number,
    private readonly sink: FrameSink,
  ) {}

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.mode === 'start') {
        const c = chunk[i]!;
        if (c === 0x0a || c === 0x0d) {
          i++;
          continue;
        }
        this.mode = c >= 0x30 && c <= 0x39 ? 'count' : 'line';
        this.digits = '';
      }
      if (this.mode === 'count') {
        const c = chunk[i]!;
        if (c >= 0x30 && c <= 0x39 && this.digits.length < MAX_DIGITS) {
          this.digits += String.fromCharCode(c);
          i++;
        } else if (c === 0x20 && this.digits.length > 0) {
          this.remaining = Number(this.digits);
          this.mode = this.remaining > 0 ? 'octets' : 'start';
          i++;
        } else {
          // Not a length prefix after all: the digits begin a newline-framed message.
          this.mode = 'line';
          this.append(Buffer.from(this.digits, 'latin1'));
        }
        continue;
      }
      if (this.mode === 'octets') {
        const take = Math.min(this.remaining, chunk.length - i);
        this.append(chunk.subarray(i, i + take));
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.finish(false);
        continue;
      }
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl;
      this.append(chunk.subarray(i, end));
      i = end;
      if (nl >= 0) {
        i++;
        this.finish(true);
      }
    }
  }

  /** The connection ended: a message without its newline still counts; a cut octet frame is marked incomplete. */
  end(): void {
    if (this.mode === 'line' && this.len > 0) this.finish(true);
    else if (this.mode === 'octets' && this.len > 0) this.emit(this.pieces === 0 ? 'first' : 'more');
    else if (this.mode === 'count' && this.digits) {
      this.parts = [Buffer.from(this.digits, 'latin1')];
      this.len = this.digits.length;
      this.finish(true);
    }
    this.parts = [];
    this.len = 0;
    this.pieces = 0;
    this.mode = 'start';
  }

  private append(b: Buffer): void {
    while (this.len + b.length > this.max) {
      const room = this.max - this.len;
      this.parts.push(b.subarray(0, room));
      this.len += room;
      b = b.subarray(room);
      this.emit(this.pieces === 0 ? 'first' : 'more');
    }
    if (b.length > 0) {
      this.parts.push(Buffer.from(b));
      this.len += b.length;
    }
  }

  private finish(line: boolean): void {
    let frame = Buffer.concat(this.parts, this.len);
    if (line && frame.length > 0 && frame[frame.length - 1] === 0x0d) frame = frame.subarray(0, frame.length - 1);
    this.parts = [frame];
    this.len = frame.length;
    if (this.len > 0 || this.pieces === 0) this.emit(this.pieces === 0 ? 'whole' : 'more');
    this.pieces = 0;
    this.mode = 'start';
  }

  private emit(piece: 'whole' | 'first' | 'more'): void {
    const frame = Buffer.concat(this.parts, this.len);
    this.parts = [];
    this.len = 0;
    if (piece !== 'whole') this.pieces++;
    if (frame.length > 0) this.sink(frame, piece);
  }
}
