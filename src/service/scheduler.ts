/**
 * Scheduled gallery maintenance (node-cron): retention of old sightings and identities,
 * re-clustering that merges identities the matcher split, and on-site adaptation. A job that
 * fails is logged and runs again at its next time; jobs never overlap themselves.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../core/logger.js';
import type { Gallery } from '../gallery/gallery.js';
import { recluster } from '../gallery/recluster.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import type { DaemonEvents } from './daemon-events.js';
import type { EventBus } from './event-bus.js';

export interface SchedulerOptions {
  gallery: Gallery;
  /** Merges are announced on it (published on identities/merged). */
  bus: EventBus<DaemonEvents>;
  logger: Logger;
  retentionCron: string;
  /** null: no re-clustering. */
  reclusterCron: string | null;
  /** On-site adaptation; without it, or with a null cron, only on request. */
  adapt?: { cron: string | null; run(): Promise<unknown> };
  mergeThreshold: number;
  /** Snapshots of expired sightings are deleted with them; files older than `snapshotMaxAgeMs` too. */
  snapshots?: Pick<SnapshotStore, 'remove' | 'pruneOlderThan'>;
  snapshotMaxAgeMs?: number;
  timezone?: string;
  now?: () => number;
}

export class Scheduler {
  private readonly tasks: ScheduledTask[] = [];

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    this.add('retention', this.options.retentionCron, () => this.retention());
    if (this.options.reclusterCron !== null) this.add('recluster', this.options.reclusterCron, () => this.recluster());
    const { adapt } = this.options;
    if (adapt !== undefined && adapt.cron !== null) this.add('adapt', adapt.cron, async () => void (await adapt.run()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.tasks.splice(0).map((task) => task.destroy()));
  }

  async retention(): Promise<void> {
    const now = (this.options.now ?? Date.now)();
    const { removedTracks, ...removed } = this.options.gallery.applyRetention(now);
    const { snapshots, snapshotMaxAgeMs } = this.options;
    let snapshotFiles = 0;
    if (snapshots) {
      snapshotFiles = await snapshots.remove(removedTracks);
      if (snapshotMaxAgeMs !== undefined) snapshotFiles += await snapshots.pruneOlderThan(snapshotMaxAgeMs, now);
    }
    this.options.logger.info(
      { job: 'retention', ...removed, snapshotFiles },
      `retention removed ${removed.sightings} sightings, ${removed.identities} identities and ${snapshotFiles} snapshot files`,
    );
  }

  async recluster(): Promise<void> {
    const merges = await recluster(this.options.gallery, { mergeThreshold: this.options.mergeThreshold, ...(this.options.now ? { now: this.options.now } : {}) });
    for (const merge of merges) this.options.bus.emit('identitiesMerged', merge);
    const merged = merges.reduce((sum, merge) => sum + merge.merged.length, 0);
    this.options.logger.info({ job: 'recluster', merges }, `re-clustering merged ${merged} identities into ${merges.length}`);
  }

  private add(name: string, expression: string, job: () => Promise<void>): void {
    const task = cron.schedule(
      expression,
      () =>
        job().catch((error: unknown) => this.options.logger.error({ job: name, err: error }, `scheduled ${name} failed`)),
      { name, noOverlap: true, ...(this.options.timezone ? { timezone: this.options.timezone } : {}) },
    );
    this.tasks.push(task);
  }
}
