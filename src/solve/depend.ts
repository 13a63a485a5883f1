/**
 * The parts of the dependency language (../depend.ts) that src/build.ts
 * imports from here; every other module imports ../depend.ts itself.
 */
export { parseDescriptor, satisfies, type Arch } from '../depend.js';
