import { ErrorCodes, MonsoonError } from '../../core/errors.js';

/** Name rules of the key-value store, apart from the engine so configs are checked without loading it. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const FAMILY_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export function invalid(message: string): MonsoonError {
  return new MonsoonError(ErrorCodes.STORE_INVALID_ARGUMENT, message);
}

export function checkTableName(name: string): void {
  if (!TABLE_NAME.test(name)) throw invalid(`table name ${JSON.stringify(name)} must be 1–128 characters of [A-Za-z0-9_.-]`);
}

export function checkFamilyName(name: string): void {
  if (!FAMILY_NAME.test(name)) throw invalid(`column family ${JSON.stringify(name)} must be 1–128 characters of [A-Za-z0-9_.-]`);
}
