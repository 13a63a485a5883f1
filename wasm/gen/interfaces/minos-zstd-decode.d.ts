/** @module Interface minos:zstd/decode@0.1.0 **/
export function outCapacity(): number;

export class Decoder {
  constructor(windowLogMax: number)
  decode(input: Uint8Array): Uint8Array;
  atFrameBoundary(): boolean;
}
