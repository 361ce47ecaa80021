import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** ../shared beside the checkout (tests run from dist/test/), or CROSSCAM_SHARED_DIR. */
export const SHARED_DIR = process.env.CROSSCAM_SHARED_DIR ?? path.resolve(fileURLToPath(import.meta.url), '../../../../../shared');
export const PETS_DIR = path.join(SHARED_DIR, 'data/PETS09-S2L1');
export const PETS_VIDEO = path.join(PETS_DIR, 'vtest.avi');
export const PETS_GT = path.join(PETS_DIR, 'gt.txt');
export const SHARED_MODELS_DIR = path.join(SHARED_DIR, 'models');
export const HAVE_PETS = existsSync(PETS_VIDEO) && existsSync(PETS_GT);
export const HAVE_SHARED_MODELS = existsSync(path.join(SHARED_MODELS_DIR, 'yolox_nano.onnx'));
/** Where tests find installed models: CI installs them via the catalog and sets CROSSCAM_MODELS_DIR. */
export const TEST_MODELS_DIR = process.env.CROSSCAM_MODELS_DIR ?? SHARED_MODELS_DIR;
