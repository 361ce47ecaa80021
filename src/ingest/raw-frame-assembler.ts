/**
 * Cuts a raw video byte stream into frames of a fixed size. Bytes are copied into a
 * small ring of preallocated frame buffers, so no buffer is allocated per frame; a
 * frame handed out stays intact until the ring comes round to it again. Shared buffers:
 * inference workers read the frames without a copy.
 */
export class RawFrameAssembler {
  private readonly buffers: Uint8Array[];
  private current = 0;
  private filled = 0;

  constructor(
    readonly frameBytes: number,
    ringSize = 3,
  ) {
    if (!(frameBytes > 0)) throw new RangeError(`frame size must be positive, got ${frameBytes}`);
    this.buffers = Array.from({ length: ringSize }, () => new Uint8Array(new SharedArrayBuffer(frameBytes)));
  }

  /**
   * Copies bytes from `chunk[offset..]` up to the end of the current frame and returns
   * the offset after the bytes consumed; a completed frame is then available from `takeFrame`.
   */
  append(chunk: Uint8Array, offset: number): number {
    const n = Math.min(this.frameBytes - this.filled, chunk.length - offset);
    this.buffers[this.current].set(chunk.subarray(offset, offset + n), this.filled);
    this.filled += n;
    return offset + n;
  }

  /** The frame just completed, if any; the ring then moves on to the next buffer. */
  takeFrame(): Uint8Array | undefined {
    if (this.filled < this.frameBytes) return undefined;
    const frame = this.buffers[this.current];
    this.filled = 0;
    this.current = (this.current + 1) % this.buffers.length;
    return frame;
  }

  /** Drops a partial frame (after a restart of the source). */
  reset(): void {
    this.filled = 0;
  }
}
