/** A camera's health as the operator sees it (retained on MQTT `cameras/<id>/status`). */
export type CameraState = 'starting' | 'online' | 'reconnecting' | 'offline';

export interface CameraStatus {
  cameraId: string;
  state: CameraState;
  /** Frames per second delivered by ffmpeg over the last few seconds. */
  fps: number;
  /** Wall-clock time (ms since epoch) of the last frame, null before the first. */
  lastFrameAt: number | null;
  /** Restarts of ffmpeg since the daemon started this camera. */
  reconnects: number;
  /** Frames dropped because the pipeline was still busy with an older one (newest frame wins). */
  skippedFrames: number;
  /** Why the camera is not online (ffmpeg's last error, watchdog timeout...), credentials redacted. */
  lastError: string | null;
  /** When the camera entered its current state (ms since epoch). */
  since: number;
}
