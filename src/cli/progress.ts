import { formatBytes } from './table.js';

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A one-line progress bar on a terminal (redrawn at most every 100 ms); silent on anything else. */
export class ProgressBar {
  private done = 0;
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly total: number,
    private readonly label: string,
    private readonly clock: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  add(bytes: number): void {
    this.done += bytes;
    const now = this.clock();
    if (now - this.lastDraw >= 100 || this.done >= this.total) {
      this.lastDraw = now;
      this.draw();
    }
  }

  /** Replaces the bar with a status line (e.g. "waiting for the server"). */
  status(text: string): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[K${text}`);
    this.drawn = true;
  }

  clear(): void {
    if (this.enabled && this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  render(width = 30): string {
    const ratio = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(ratio * width);
    const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent}  ${formatBytes(
      Math.min(this.done, this.total),
    )} / ${formatBytes(this.total)}`;
  }

  private draw(): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[K${this.render()}`);
    this.drawn = true;
  }
}
