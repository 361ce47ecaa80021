/**
 * Where a frame lands inside a model's fixed-size input (letterbox or stretch),
 * and the inverse mapping from model-input pixels back to frame pixels.
 */
import { clipBox, type Box } from '../core/geometry.js';
import { letterboxTrim, type ResizeSpec } from '../models/catalog-schema.js';

export interface InputPlacement {
  frameWidth: number;
  frameHeight: number;
  /** The model input this frame runs as: the catalog's size, or less when the letterbox is trimmed. */
  inputWidth: number;
  inputHeight: number;
  /** Size of the resized frame inside the input (equal to the input size when stretching). */
  resizedWidth: number;
  resizedHeight: number;
  /** Pad before the resized frame; the rest of the input (right/bottom) is pad too. */
  padLeft: number;
  padTop: number;
  /** resized / frame per axis: the scale the resize really applies. */
  scaleX: number;
  scaleY: number;
}

export interface PlaceFrameOptions {
  frameWidth: number;
  frameHeight: number;
  /** The catalog's input size. */
  inputWidth: number;
  inputHeight: number;
  resize: ResizeSpec;
}

/**
 * Letterbox follows the reference YOLOX preprocessing: r = min(inH/h, inW/w), resized
 * size = (int(w·r), int(h·r)). The small epsilon keeps the axis that sets r exactly at the
 * input size when w·r lands a hair below an integer in floating point. A trimmed letterbox
 * (`trimToMultiple`) keeps r and the resized size, and shrinks the input to the resized size
 * rounded up to the multiple: the pad the network would have run over is left out.
 */
export function placeFrame(options: PlaceFrameOptions): InputPlacement {
  const { frameWidth, frameHeight, inputWidth, inputHeight, resize } = options;
  if (!(frameWidth > 0 && frameHeight > 0)) throw new Error(`frame size ${frameWidth}x${frameHeight} is empty`);
  if (resize.mode === 'stretch') {
    return {
      frameWidth, frameHeight, inputWidth, inputHeight,
      resizedWidth: inputWidth, resizedHeight: inputHeight,
      padLeft: 0, padTop: 0,
      scaleX: inputWidth / frameWidth, scaleY: inputHeight / frameHeight,
    };
  }
  const ratio = Math.min(inputHeight / frameHeight, inputWidth / frameWidth);
  const fit = (length: number, limit: number) => Math.min(limit, Math.max(1, Math.floor(length * ratio + 1e-6)));
  const resizedWidth = fit(frameWidth, inputWidth);
  const resizedHeight = fit(frameHeight, inputHeight);
  const multiple = letterboxTrim(resize);
  const trim = (resized: number, limit: number) => (multiple === undefined ? limit : Math.min(limit, Math.ceil(resized / multiple) * multiple));
  const width = trim(resizedWidth, inputWidth);
  const height = trim(resizedHeight, inputHeight);
  const centred = resize.align === 'center';
  return {
    frameWidth, frameHeight, inputWidth: width, inputHeight: height,
    resizedWidth, resizedHeight,
    padLeft: centred ? Math.floor((width - resizedWidth) / 2) : 0,
    padTop: centred ? Math.floor((height - resizedHeight) / 2) : 0,
    scaleX: resizedWidth / frameWidth,
    scaleY: resizedHeight / frameHeight,
  };
}

/** Maps a box in model-input pixels back to frame pixels: undo the pad offset and the resize, clip to the frame. */
export function mapBoxToFrame(box: Box, placement: InputPlacement): Box {
  const { padLeft, padTop, scaleX, scaleY, frameWidth, frameHeight } = placement;
  return clipBox(
    { x1: (box.x1 - padLeft) / scaleX, y1: (box.y1 - padTop) / scaleY, x2: (box.x2 - padLeft) / scaleX, y2: (box.y2 - padTop) / scaleY },
    frameWidth,
    frameHeight,
  );
}
