/** @module Interface minos:xz/encode@0.1.0 **/
export function outCapacity(): number;
/**
 * # Variants
 * 
 * ## `"none"`
 * 
 * ## `"crc32"`
 * 
 * ## `"crc64"`
 */
export type Check = 'none' | 'crc32' | 'crc64';

export class Encoder {
  constructor(preset: number, check: Check, dictMax: number)
  encode(input: Uint8Array): Uint8Array;
  finish(): Uint8Array;
}
