/**
 * V8 compiles typed-array code on the assumption that no ArrayBuffer of the thread was ever
 * detached (its "array buffer detaching protector"). The first buffer a thread transfers with
 * postMessage breaks that assumption once and for all: every optimized function that relied on it
 * is thrown away and compiled again, a second wave of compilation in the middle of a run (in the
 * server, ~40 functions at the first write of the key-value store). A component that will transfer
 * buffers calls this when it is set up, so hot code is compiled once, already without the
 * assumption.
 */
let detached = false;

export function detachOnceNow(): void {
  if (detached) return;
  detached = true;
  const ab = new ArrayBuffer(8);
  structuredClone(ab, { transfer: [ab] });
}
