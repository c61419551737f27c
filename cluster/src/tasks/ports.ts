/** Hands out host ports from the configured range and service ports (Marathon's 10000-20000). */
export class PortRange {
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.cursor = min;
  }

  reserve(port: number): void {
    this.used.add(port);
  }

  release(port: number): void {
    this.used.delete(port);
  }

  /** The next free port, or undefined when the range is exhausted. */
  take(): number | undefined {
    const size = this.max - this.min + 1;
    for (let i = 0; i < size; i++) {
      const port = this.cursor;
      this.cursor = this.cursor >= this.max ? this.min : this.cursor + 1;
      if (!this.used.has(port)) {
        this.used.add(port);
        return port;
      }
    }
    return undefined;
  }

  get free(): number {
    return this.max - this.min + 1 - this.used.size;
  }
}
