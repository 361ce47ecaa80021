/**
 * Offline sources (a file) are read in order, not newest-frame-wins: to keep both cores busy,
 * the next frames' detections run while the current frame is tracked and its crops embedded.
 * Each frame in flight lives in its own shared buffer (inference workers read it without a
 * copy); the buffers are reused, so nothing is allocated per frame.
 */
import type { Detection, Frame } from '../core/types.js';
import type { Detector } from '../detect/detector.js';

export interface DetectedFrame {
  /** Its pixels are valid until the consumer asks for the next frame. */
  frame: Frame;
  /** The detector's raw output for it (before the camera's filters). */
  detections: Detection[];
}

interface InFlight {
  frame: Frame;
  detections: Promise<Detection[]>;
}

/**
 * Yields every frame of `frames` in order with its detections, keeping up to `depth` frames
 * ahead of the consumer in the detector. depth 0 detects each frame only when it is asked for.
 */
export async function* detectAhead(frames: AsyncIterable<Frame>, detector: Pick<Detector, 'detect'>, depth: number): AsyncGenerator<DetectedFrame> {
  const free: Uint8Array[] = [];
  const inFlight: InFlight[] = [];

  async function* yieldOldest(): AsyncGenerator<DetectedFrame> {
    const oldest = inFlight.shift()!;
    yield { frame: oldest.frame, detections: await oldest.detections };
    free.push(oldest.frame.data);
  }

  try {
    for await (const frame of frames) {
      let buffer = free.pop();
      if (buffer?.length !== frame.data.length) buffer = new Uint8Array(new SharedArrayBuffer(frame.data.length));
      buffer.set(frame.data);
      const owned: Frame = { ...frame, data: buffer };
      const detections = detector.detect(owned);
      // Awaited in order later; until then a failure must not count as unhandled.
      detections.catch(() => undefined);
      inFlight.push({ frame: owned, detections });
      if (inFlight.length > depth) yield* yieldOldest();
    }
    while (inFlight.length > 0) yield* yieldOldest();
  } finally {
    // Left early (or failed): let the detections still running finish before the caller releases the detector.
    await Promise.allSettled(inFlight.splice(0).map((job) => job.detections));
  }
}
