/**
 * Three preallocated frame buffers with explicit roles, for live sources where the newest
 * frame wins: one is being filled from the byte stream, one holds the latest complete frame
 * until the consumer takes it, one is held by the consumer for as long as it likes. When a
 * frame completes while the pending one was never taken, the pending one is dropped (its
 * buffer is refilled next). Nothing is allocated per frame.
 */
export class LatestFrameSlots<Meta> {
  private readonly buffers: [Uint8Array, Uint8Array, Uint8Array];
  private readonly meta: (Meta | undefined)[] = [undefined, undefined, undefined];
  private filling = 0;
  private pending = -1;
  private held = -1;
  private filled = 0;

  constructor(readonly frameBytes: number) {
    if (!(frameBytes > 0)) throw new RangeError(`frame size must be positive, got ${frameBytes}`);
    const buffer = () => new Uint8Array(new SharedArrayBuffer(frameBytes));
    this.buffers = [buffer(), buffer(), buffer()];
  }

  /**
   * Copies bytes from `chunk[offset..]` up to the end of the frame being filled and returns
   * the offset after the bytes consumed; when `frameComplete` turns true, call `commit`.
   */
  append(chunk: Uint8Array, offset: number): number {
    const n = Math.min(this.frameBytes - this.filled, chunk.length - offset);
    this.buffers[this.filling].set(chunk.subarray(offset, offset + n), this.filled);
    this.filled += n;
    return offset + n;
  }

  get frameComplete(): boolean {
    return this.filled === this.frameBytes;
  }

  /** Makes the completed frame the pending one; returns true when an untaken pending frame was dropped for it. */
  commit(meta: Meta): boolean {
    if (!this.frameComplete) throw new Error('commit before the frame is complete');
    const dropped = this.pending >= 0;
    const done = this.filling;
    this.meta[done] = meta;
    // The dropped pending buffer is refilled next; otherwise the one neither pending nor held is free.
    this.filling = dropped ? this.pending : this.freeSlot(done);
    this.pending = done;
    this.filled = 0;
    return dropped;
  }

  get hasPending(): boolean {
    return this.pending >= 0;
  }

  /** Hands the pending frame to the consumer (releasing the one it held before), if there is one. */
  take(): { data: Uint8Array; meta: Meta } | undefined {
    if (this.pending < 0) return undefined;
    this.held = this.pending;
    this.pending = -1;
    return { data: this.buffers[this.held], meta: this.meta[this.held] as Meta };
  }

  /** The consumer is done with the frame it held; its buffer may be refilled. */
  release(): void {
    this.held = -1;
  }

  /** Drops a partial frame (the stream it came from ended). */
  discardPartial(): void {
    this.filled = 0;
  }

  private freeSlot(excluding: number): number {
    for (let i = 0; i < 3; i += 1) if (i !== excluding && i !== this.held) return i;
    throw new Error('no free frame slot');
  }
}
