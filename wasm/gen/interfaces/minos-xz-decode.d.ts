/** @module Interface minos:xz/decode@0.1.0 **/
export function outCapacity(): number;

export class Decoder {
  constructor(memlimit: number)
  decode(input: Uint8Array, last: boolean): Uint8Array;
  atEnd(): boolean;
}
