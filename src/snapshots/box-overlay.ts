/**
 * Tracked boxes and their labels drawn into a raw RGB frame in place, for frame snapshots.
 *
 * sharp's composite of an SVG overlay cost 11–13 CPU ms per 832x468 frame against 3.7 ms for
 * the JPEG encode alone, and every ended track writes one (docs/performance.md): box edges are
 * drawn here with native fills, and labels from a glyph atlas that sharp renders once per font
 * size (monospace, so each character has a cell of its own).
 */
import sharp from 'sharp';
import type { Box } from '../core/geometry.js';

export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface LabelledBox {
  box: Box;
  label: string;
}

const COLOUR = [0xff, 0xd4, 0x00] as const;
/** The characters labels are made of (`<class> #<track>`); others are drawn as blanks. */
const CHARACTERS = ' #-_.:0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** One alpha byte per pixel for each character of CHARACTERS, in cells of cellWidth × cellHeight. */
export interface GlyphAtlas {
  cellWidth: number;
  cellHeight: number;
  /** Rows of CHARACTERS.length cells side by side. */
  alpha: Uint8Array;
}

const atlases = new Map<number, Promise<GlyphAtlas>>();

/** The atlas for a font size in pixels, rendered on first use. */
export function glyphAtlas(fontSize: number): Promise<GlyphAtlas> {
  let atlas = atlases.get(fontSize);
  if (!atlas) {
    atlas = renderAtlas(fontSize);
    atlases.set(fontSize, atlas);
  }
  return atlas;
}

async function renderAtlas(fontSize: number): Promise<GlyphAtlas> {
  const cellWidth = Math.ceil(fontSize * 0.62);
  const cellHeight = Math.ceil(fontSize * 1.25);
  const width = cellWidth * CHARACTERS.length;
  const escape = (c: string) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] ?? c;
  const cells = [...CHARACTERS]
    .map((c, i) => `<text x="${i * cellWidth}" y="${fontSize}" font-family="monospace" font-size="${fontSize}" fill="#fff">${escape(c)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${cellHeight}">${cells}</svg>`;
  const alpha = await sharp(Buffer.from(svg)).ensureAlpha().extractChannel(3).raw().toBuffer();
  return { cellWidth, cellHeight, alpha: new Uint8Array(alpha.buffer, alpha.byteOffset, alpha.byteLength) };
}

/** Draws each box's outline (stroke px wide) and its label above it (or inside, at the top edge). */
export function drawBoxes(image: RgbImage, boxes: readonly LabelledBox[], stroke: number, atlas: GlyphAtlas): void {
  for (const { box, label } of boxes) {
    const x1 = clamp(Math.round(box.x1), 0, image.width - 1);
    const y1 = clamp(Math.round(box.y1), 0, image.height - 1);
    const x2 = clamp(Math.round(box.x2), x1 + 1, image.width);
    const y2 = clamp(Math.round(box.y2), y1 + 1, image.height);
    fillRect(image, x1, y1, x2, Math.min(y2, y1 + stroke));
    fillRect(image, x1, Math.max(y1, y2 - stroke), x2, y2);
    fillRect(image, x1, y1, Math.min(x2, x1 + stroke), y2);
    fillRect(image, Math.max(x1, x2 - stroke), y1, x2, y2);
    const top = y1 - atlas.cellHeight - 1 >= 0 ? y1 - atlas.cellHeight - 1 : y1 + stroke;
    // Kept inside the image: a box at the right edge has its label moved left.
    const left = Math.max(0, Math.min(x1 + stroke, image.width - label.length * atlas.cellWidth));
    drawLabel(image, label, left, top, atlas);
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(Math.max(value, low), high);
}

/** Fills [x1, x2) × [y1, y2) with the overlay colour: one native fill per row after the first. */
function fillRect(image: RgbImage, x1: number, y1: number, x2: number, y2: number): void {
  if (x2 <= x1 || y2 <= y1) return;
  const rowBytes = (x2 - x1) * 3;
  const first = (y1 * image.width + x1) * 3;
  for (let i = 0; i < rowBytes; i += 3) image.data.set(COLOUR, first + i);
  for (let y = y1 + 1; y < y2; y++) image.data.copy(image.data, (y * image.width + x1) * 3, first, first + rowBytes);
}

/** Blends the label's glyphs in at (left, top): a few thousand pixels per label, clipped to the image. */
function drawLabel(image: RgbImage, label: string, left: number, top: number, atlas: GlyphAtlas): void {
  const { cellWidth, cellHeight, alpha } = atlas;
  const atlasWidth = cellWidth * CHARACTERS.length;
  for (let c = 0; c < label.length; c++) {
    const glyph = CHARACTERS.indexOf(label[c]!);
    const x0 = left + c * cellWidth;
    if (glyph <= 0 || x0 >= image.width) continue;
    for (let gy = 0; gy < cellHeight; gy++) {
      const y = top + gy;
      if (y < 0 || y >= image.height) continue;
      for (let gx = 0; gx < cellWidth && x0 + gx < image.width; gx++) {
        const a = alpha[gy * atlasWidth + glyph * cellWidth + gx]!;
        if (a === 0) continue;
        const at = (y * image.width + x0 + gx) * 3;
        for (let k = 0; k < 3; k++) image.data[at + k] = (image.data[at + k]! * (255 - a) + COLOUR[k] * a + 127) / 255;
      }
    }
  }
}
