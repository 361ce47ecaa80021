/**
 * onnxruntime-node cannot wrap a typed array over a SharedArrayBuffer ("Invalid argument"),
 * and live frames live in shared buffers (so inference workers read them without a
 * postMessage copy). A staging buffer gives such bytes an ordinary ArrayBuffer: one copy
 * into memory reused from call to call; ordinary arrays pass through untouched.
 */
export class StagingBuffer {
  private buffer = new Uint8Array(0);

  /** `bytes` itself, or a copy in the reused buffer (valid until the next call) when they are shared. */
  ordinary(bytes: Uint8Array): Uint8Array {
    if (!(bytes.buffer instanceof SharedArrayBuffer)) return bytes;
    if (this.buffer.length < bytes.length) this.buffer = new Uint8Array(bytes.length);
    const view = this.buffer.subarray(0, bytes.length);
    view.set(bytes);
    return view;
  }
}
