/**
 * Reusable buffers for the snapshot store's pixel copies (frames and crops).
 *
 * Why: every fresh Buffer is new external memory to V8, which counts towards starting a full
 * collection. Copies taken from buffers that earlier copies released change no external memory
 * once the pool has grown to what the cameras hold at once: with 8 cameras (and the heap growing
 * factor src/cli/main.ts sets, the main cause) the main isolate's full collections went from
 * 0.55 to 0.12 a second (docs/performance.md, "Full collections").
 *
 * Buffers come in size classes a quarter octave apart (at most 19 % over the asked size, from
 * 4 KiB); a camera's frame copies all fall in one class. Each buffer is reference-counted: a
 * frame copy is shared by the tracks whose best crop is on it and by the camera's live view, and
 * sharp reads a buffer asynchronously while it encodes. Idle buffers that were not needed over a
 * whole trim interval (the lowest idle count a class reached) are dropped, so a burst of tracks
 * does not pin its memory for good (checked when a buffer is taken).
 */

/** One pooled pixel buffer; back in the pool when its last holder releases it. */
export interface PixelBuffer {
  /** Exactly the asked bytes (a view of the pooled buffer). */
  readonly data: Buffer;
  /** One more holder. */
  retain(): PixelBuffer;
  /** One holder less; the last release returns the buffer to the pool. */
  release(): void;
}

export interface PixelPoolOptions {
  /** Idle buffers unused for a whole interval are dropped (default 60 s). */
  trimEveryMs?: number;
  /** Monotonic clock, ms (default performance.now). */
  now?: () => number;
}

interface SizeClass {
  idle: Buffer[];
  /** Fewest idle buffers since the last trim: that many were not needed. */
  lowWater: number;
}

const SMALLEST_CLASS = 4096;
const STEPS_PER_OCTAVE = 4;

/** The capacity of the size class that holds `bytes`. */
export function classCapacity(bytes: number): number {
  if (bytes <= SMALLEST_CLASS) return SMALLEST_CLASS;
  // The smallest class whose (rounded-up) capacity holds it: start a step low for rounding.
  const capacityAt = (step: number) => Math.ceil(SMALLEST_CLASS * 2 ** (step / STEPS_PER_OCTAVE));
  let step = Math.max(0, Math.ceil(STEPS_PER_OCTAVE * Math.log2(bytes / SMALLEST_CLASS)) - 1);
  while (capacityAt(step) < bytes) step += 1;
  return capacityAt(step);
}

export class PixelPool {
  private readonly classes = new Map<number, SizeClass>();
  private readonly trimEveryMs: number;
  private readonly now: () => number;
  private nextTrimAt: number;
  private inUse = 0;

  constructor(options: PixelPoolOptions = {}) {
    this.trimEveryMs = options.trimEveryMs ?? 60_000;
    this.now = options.now ?? (() => performance.now());
    this.nextTrimAt = this.now() + this.trimEveryMs;
  }

  /** A buffer of `bytes` (contents undefined), held once. */
  take(bytes: number): PixelBuffer {
    if (!Number.isInteger(bytes) || bytes <= 0) throw new RangeError(`a pixel buffer needs a positive whole size, got ${bytes}`);
    this.trimIfDue();
    const capacity = classCapacity(bytes);
    let sizeClass = this.classes.get(capacity);
    if (sizeClass === undefined) this.classes.set(capacity, (sizeClass = { idle: [], lowWater: 0 }));
    // allocUnsafeSlow: its own memory, never a slice of Node's shared small-buffer pool.
    const backing = sizeClass.idle.pop() ?? Buffer.allocUnsafeSlow(capacity);
    sizeClass.lowWater = Math.min(sizeClass.lowWater, sizeClass.idle.length);
    this.inUse += capacity;
    return this.holder(backing, sizeClass, bytes);
  }

  /** Bytes of the buffers held now, and of the idle ones kept for reuse. */
  usage(): { inUseBytes: number; idleBytes: number } {
    let idleBytes = 0;
    for (const [capacity, sizeClass] of this.classes) idleBytes += capacity * sizeClass.idle.length;
    return { inUseBytes: this.inUse, idleBytes };
  }

  private holder(backing: Buffer, sizeClass: SizeClass, bytes: number): PixelBuffer {
    let holders = 1;
    const buffer: PixelBuffer = {
      data: backing.subarray(0, bytes),
      retain: () => {
        if (holders === 0) throw new Error('a released pixel buffer cannot be retained');
        holders += 1;
        return buffer;
      },
      release: () => {
        if (holders === 0) throw new Error('pixel buffer released more often than held');
        holders -= 1;
        if (holders > 0) return;
        this.inUse -= backing.length;
        sizeClass.idle.push(backing);
      },
    };
    return buffer;
  }

  private trimIfDue(): void {
    const now = this.now();
    if (now < this.nextTrimAt) return;
    this.nextTrimAt = now + this.trimEveryMs;
    for (const sizeClass of this.classes.values()) {
      sizeClass.idle.length -= sizeClass.lowWater;
      sizeClass.lowWater = sizeClass.idle.length;
    }
  }
}
