// Functions and operators for examples/sql/cdr.cql (loaded by the compute runtime).

/** '+86 138-0013-8000' → '8613800138000': digits only. */
export function msisdn(raw) {
  return raw === null ? null : String(raw).replace(/\D+/g, '');
}

/** A user operator: one output row per input row, tagging roaming calls. */
export class RoamingTagger {
  constructor(props) {
    this.home = props.home ?? '460';
  }
  process(row) {
    const [caller, cell, seconds] = row;
    return [[caller, String(cell).startsWith(this.home) ? 'home' : 'roaming', seconds]];
  }
}
