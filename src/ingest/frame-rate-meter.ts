/** Frames per second over a sliding window, from a fixed ring of arrival times (no allocation per frame). */
export class FrameRateMeter {
  private readonly times: Float64Array;
  private next = 0;
  private stored = 0;
  private startedAt = -Infinity;

  constructor(
    private readonly windowMs = 5_000,
    capacity = 512,
  ) {
    this.times = new Float64Array(capacity);
  }

  record(timeMs: number): void {
    if (this.stored === 0) this.startedAt = timeMs;
    this.times[this.next] = timeMs;
    this.next = (this.next + 1) % this.times.length;
    this.stored = Math.min(this.stored + 1, this.times.length);
  }

  /**
   * Rate over the last window, or since the first frame when that is more recent (that frame
   * opens the span). The span counts as at least one second: right after a stream opens, ffmpeg
   * flushes the frames it buffered while probing in one burst, which is not the stream's rate.
   */
  rate(nowMs: number): number {
    const from = Math.max(nowMs - this.windowMs, this.startedAt);
    let frames = 0;
    for (let i = 0; i < this.stored; i += 1) if (this.times[i] > from && this.times[i] <= nowMs) frames += 1;
    return (frames * 1000) / Math.max(nowMs - from, 1000);
  }

  /** Starts over (a new ffmpeg run). */
  reset(): void {
    this.stored = 0;
    this.next = 0;
    this.startedAt = -Infinity;
  }
}
