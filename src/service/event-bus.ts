import type { Logger } from '../core/logger.js';

/**
 * A typed publish/subscribe bus between the daemon's stages. A listener that throws
 * (or rejects) is logged with its stage and event and does not stop the others:
 * one stage's failure never takes the pipeline down.
 */
export class EventBus<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(payload: never) => unknown>>();

  constructor(private readonly logger: Logger) {}

  /** Subscribes `listener`; returns the unsubscribe function. */
  on<K extends keyof Events>(event: K, stage: string, listener: (payload: Events[K]) => unknown): () => void {
    const wrapped = (payload: Events[K]) => {
      try {
        const result = listener(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.report(stage, event, error));
      } catch (error) {
        this.report(stage, event, error);
      }
    };
    const set = this.listeners.get(event) ?? new Set();
    set.add(wrapped as (payload: never) => unknown);
    this.listeners.set(event, set);
    return () => set.delete(wrapped as (payload: never) => unknown);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (payload: Events[K]) => unknown)(payload);
  }

  private report(stage: string, event: keyof Events, error: unknown): void {
    this.logger.error({ stage, event: String(event), err: error }, `${stage} failed handling ${String(event)}`);
  }
}
