import { readFileSync } from 'node:fs';

/** The Theseus release, as the repository's package.json states it (the same from src/ and dist/). */
export const THESEUS_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
