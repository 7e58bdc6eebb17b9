import { ErrorCodes, MonsoonError } from '../core/errors.js';
import { identityOf, ORIGIN_HEADER, SEQ_HEADER, type Event } from '../core/event.js';

/**
 * Event identity as a store key: `<origin>:<seq>` with the sequence zero-padded to 16 digits, so keys
 * of one origin sort by sequence in ordered stores (row-key scans) and compare as plain text elsewhere.
 */
export function identityKey(e: Event): string {
  const id = identityOf(e);
  if (!id) {
    throw new MonsoonError(
      ErrorCodes.STORE_INVALID_ARGUMENT,
      `an event has no identity (${ORIGIN_HEADER}/${SEQ_HEADER} headers), which idempotent store writes key on; send it through a source that stamps identities (taildir, spooldir, thrift) or key the store on headers instead`,
    );
  }
  return `${id.origin}:${String(id.seq).padStart(16, '0')}`;
}

/**
 * A key template: `%{name}` is the header `name` ('' when absent), `%{identity}` the event's identity
 * key (identityKey), `%%` a literal percent sign. Parsed once; rendering does no parsing.
 */
export class KeyTemplate {
  private readonly parts: Array<{ text: string } | { header: string } | { identity: true }> = [];
  readonly usesIdentity: boolean;

  constructor(readonly source: string) {
    const re = /%\{([^}]*)\}|%%/g;
    let last = 0;
    for (let m = re.exec(source); m; m = re.exec(source)) {
      if (m.index > last) this.parts.push({ text: source.slice(last, m.index) });
      if (m[0] === '%%') this.parts.push({ text: '%' });
      else if (m[1] === 'identity') this.parts.push({ identity: true });
      else if (m[1]) this.parts.push({ header: m[1] });
      else throw new Error(`empty %{} in key template ${JSON.stringify(source)}`);
      last = re.lastIndex;
    }
    if (last < source.length) this.parts.push({ text: source.slice(last) });
    this.usesIdentity = this.parts.some((p) => 'identity' in p);
  }

  render(e: Event): string {
    let out = '';
    for (const p of this.parts) out += 'text' in p ? p.text : 'header' in p ? (e.headers[p.header] ?? '') : identityKey(e);
    return out;
  }
}
