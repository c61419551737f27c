/** Marathon writes every timestamp as `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC, milliseconds). */
export function timestamp(ms: number = Date.now()): string {
  return new Date(ms).toISOString();
}

/**
 * App versions are timestamps that must be unique and increasing even when two changes land in the
 * same millisecond.
 */
export class VersionClock {
  private last = 0;
  next(): string {
    const now = Math.max(Date.now(), this.last + 1);
    this.last = now;
    return timestamp(now);
  }
  /** Never hand out a version at or before one already used (after a restart). */
  observe(version: string): void {
    const ms = Date.parse(version);
    if (Number.isFinite(ms) && ms > this.last) this.last = ms;
  }
}
