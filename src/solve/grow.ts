/** The typed arrays the solver's tables grow in. */
type Growable = Int8Array | Uint8Array | Uint16Array | Int32Array;

/**
 * A copy of `a` with room for at least `need` elements and at least twice
 * its length (so appending stays amortised O(1)), the new part set to `fill`.
 */
export function grown<T extends Growable>(a: T, need: number, fill = 0): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(a.length * 2, need));
  b.set(a as ArrayLike<number>);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}
