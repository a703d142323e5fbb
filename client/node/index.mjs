// ES module entry of the wmd package: the same objects as the CommonJS entry (index.js).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wmd = require('./index.js');

export const {
  createMemoryDistributor,
  scan,
  onDiff,
  applyPatches,
  getVectorClock,
  resizeMemory,
  destroy,
  attachSegment,
} = wmd;
export default wmd;
