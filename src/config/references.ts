import type { RawConfigIssue } from './issues.js';

/*
 * Checks of names that point elsewhere: camera ids used by topology, and model ids that must
 * exist in the model catalog.
 */

/** The part of a model catalog the config check needs: model id → what the model does. */
export type KnownModels = ReadonlyMap<string, { readonly task: string }>;
/** The tasks the config selects models for (the catalog may hold others, e.g. segmentation). */
type ModelTask = 'detector' | 'reid';

/** The models section as far as references go (ids after defaults). */
export interface ModelReferences {
  detector: string;
  reid: { person: string; vehicle?: string | undefined };
}

/** Every model id must name a catalog model of the right task. Key paths are relative to `models`. */
export function modelReferenceIssues(models: ModelReferences, known: KnownModels): RawConfigIssue[] {
  const references: Array<[PropertyKey[], string | undefined, ModelTask]> = [
    [['detector'], models.detector, 'detector'],
    [['reid', 'person'], models.reid.person, 'reid'],
    [['reid', 'vehicle'], models.reid.vehicle, 'reid'],
  ];
  const issues: RawConfigIssue[] = [];
  for (const [keyPath, id, task] of references) {
    if (id === undefined) continue;
    const candidates = [...known].filter(([, model]) => model.task === task).map(([candidate]) => candidate);
    const choices = candidates.length > 0 ? candidates.sort().join(', ') : 'none';
    const model = known.get(id);
    if (model === undefined) {
      issues.push({ keyPath, message: `unknown model "${id}" (known: ${choices})` });
    } else if (model.task !== task) {
      issues.push({ keyPath, message: `model "${id}" is a ${model.task} model, not a ${task} model (known: ${choices})` });
    }
  }
  return issues;
}

/**
 * Camera ids must be unique and topology must name existing cameras. Runs on the raw
 * (unvalidated) file so that these problems are reported together with all others, hence
 * it reads values defensively. (Kept out of the zod schema: zod skips object refinements after
 * some issues, e.g. a non-integer, and this check must always run.)
 */
export function cameraReferenceIssues(config: unknown): RawConfigIssue[] {
  const issues: RawConfigIssue[] = [];
  const cameras = listAt(config, 'cameras');
  const ids = new Map<string, number>();
  cameras.forEach((camera, index) => {
    const id = fieldAt(camera, 'id');
    if (typeof id !== 'string') return;
    const first = ids.get(id);
    if (first === undefined) ids.set(id, index);
    else issues.push({ keyPath: ['cameras', index, 'id'], message: `duplicate camera id "${id}" (also cameras.${first}.id)` });
  });
  // With a camera lacking an id, "unknown camera" could be wrong: leave that to the next run.
  if (ids.size === 0 || cameras.some((camera) => typeof fieldAt(camera, 'id') !== 'string')) return issues;

  const known = [...ids.keys()].join(', ');
  const reference = (value: unknown, keyPath: PropertyKey[]) => {
    if (typeof value === 'string' && !ids.has(value)) {
      issues.push({ keyPath, message: `unknown camera "${value}" (cameras: ${known})` });
    }
  };
  listAt(config, 'topology').forEach((link, index) => {
    reference(fieldAt(link, 'from'), ['topology', index, 'from']);
    reference(fieldAt(link, 'to'), ['topology', index, 'to']);
  });
  return issues;
}

function fieldAt(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

function listAt(value: unknown, key: string): unknown[] {
  const list = fieldAt(value, key);
  return Array.isArray(list) ? list : [];
}
