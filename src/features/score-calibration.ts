/**
 * Camera-pair score calibration: how similar two different people look depends on the pair of
 * cameras (a blurred camera makes everyone on it look alike; two cameras with different colour
 * look less alike than one with itself). For each pair (a, b) — including a camera with itself —
 * the matcher feeds similarities that are almost all between different people: a track against
 * the identities seen at the same time on its own camera (certainly others) and against every
 * candidate from another camera (others but for at most one). Their median m_ab is the pair's
 * "different people" level, and a similarity s is compared as
 *
 *   s' = (s − m_ab) / (1 − m_ab)
 *
 * so that 0 is a typical stranger and 1 identical, for every pair. Until a pair has enough
 * samples the pooled level of its kind (same camera, or across cameras) stands in; until that
 * exists, similarities are compared as they are. Samples are kept in LMDB (the last `window` per
 * pair), written in the caller's transaction, with the version of the on-site adapter they were
 * measured under: a new adapter changes every similarity, so its samples start anew.
 */
import { openDatabase, type Database, type RootDatabase } from '../core/state-store.js';
import { median } from '../core/statistics.js';

export interface ScoreCalibrationOptions {
  store: RootDatabase;
  enabled: boolean;
  /** Samples kept per camera pair (the most recent). */
  window: number;
  /** Samples a pair (or a kind) needs before its level is used. */
  minSamples: number;
}

const SAME = '*same';
const CROSS = '*cross';
/** Key of the adapter version the samples were measured under (not a pair). */
const ADAPTER = '*adapter';

export class ScoreCalibration {
  private readonly db: Database<number[], string>;
  private readonly samples = new Map<string, number[]>();
  private readonly levels = new Map<string, number>();
  private adapterVersion = 0;

  constructor(private readonly options: ScoreCalibrationOptions) {
    this.db = openDatabase(options.store, { name: 'feature-pair-levels' });
    for (const { key, value } of this.db.getRange()) {
      if (key === ADAPTER) this.adapterVersion = value[0] ?? 0;
      else this.samples.set(key, value);
    }
  }

  /** The matching space now uses adapter `version` (0: none): samples measured under another are dropped. */
  useAdapterVersion(version: number): void {
    if (version === this.adapterVersion) return;
    this.db.transactionSync(() => {
      for (const key of this.samples.keys()) this.db.removeSync(key);
      this.db.putSync(ADAPTER, [version]);
    });
    this.samples.clear();
    this.levels.clear();
    this.adapterVersion = version;
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Records similarities of one camera pair (written with putSync: inside a transaction it commits with it). */
  observe(cameraA: string, cameraB: string, similarities: readonly number[]): void {
    if (!this.options.enabled || similarities.length === 0) return;
    for (const key of [pairKey(cameraA, cameraB), cameraA === cameraB ? SAME : CROSS]) {
      const kept = [...(this.samples.get(key) ?? []), ...similarities].slice(-this.options.window);
      this.samples.set(key, kept);
      this.levels.delete(key);
      this.db.putSync(key, kept);
    }
  }

  /** m_ab: the pair's level, else its kind's, else undefined (not calibrated yet). */
  level(cameraA: string, cameraB: string): number | undefined {
    if (!this.options.enabled) return undefined;
    return this.levelOf(pairKey(cameraA, cameraB)) ?? this.levelOf(cameraA === cameraB ? SAME : CROSS);
  }

  /** s' for a similarity between cameras a and b. */
  calibrate(similarity: number, cameraA: string, cameraB: string): number {
    return calibratedScore(similarity, this.level(cameraA, cameraB));
  }

  private levelOf(key: string): number | undefined {
    let level = this.levels.get(key);
    if (level !== undefined) return level;
    const values = this.samples.get(key);
    if (values === undefined || values.length < this.options.minSamples) return undefined;
    level = median(values);
    this.levels.set(key, level);
    return level;
  }
}

function pairKey(a: string, b: string): string {
  return a <= b ? `${a}|${b}` : `${b}|${a}`;
}

/** (s − m)/(1 − m) for a level m (the similarity as it is without one, or when m ≥ 1). */
export function calibratedScore(similarity: number, level: number | undefined): number {
  return level === undefined || level >= 1 ? similarity : (similarity - level) / (1 - level);
}
