/** The Apache Thrift library's own CommonJS files, imported one by one by lib.ts (typed there). */
declare module 'thrift/lib/nodejs/lib/thrift/*' {
  const exported: unknown;
  export default exported;
}
