/** @module Interface minos:zstd/encode@0.1.0 **/
export function outCapacity(): number;

export class Encoder {
  constructor(level: number)
  encode(input: Uint8Array): Uint8Array;
  finish(): Uint8Array;
}
