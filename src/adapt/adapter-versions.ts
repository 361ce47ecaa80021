/**
 * Adapter versions in the state store: every candidate a run produced, with its held-out
 * figures and whether it was activated, and which version is active now. Rollback returns to
 * the version that was active before the current one (or to none: the plain centred space).
 * The daemon and the `crosscam adapt` commands share it, so either can activate or roll back and
 * the daemon follows (see Adaptation.sync).
 */
import { openDatabase, type Database, type RootDatabase } from '../core/state-store.js';
import { adapterFromDocument, type AdapterDocument } from './adapter-file.js';
import type { ResidualAdapter } from './residual-adapter.js';

export interface AdapterVersion {
  version: number;
  document: AdapterDocument;
  /** Whether the run activated it (it beat the active adapter on the held-out tracks). */
  activated: boolean;
  createdAt: number;
}

interface StoredState {
  /** Active version, 0: none. */
  active: number;
  /** Versions active before it, most recent last (what rollback returns to). */
  history: number[];
}

const STATE_KEY = 0;

export class AdapterVersions {
  private readonly versions: Database<AdapterVersion, number>;
  private readonly state: Database<StoredState, number>;

  constructor(store: RootDatabase) {
    this.versions = openDatabase(store, { name: 'adapter-versions', keyEncoding: 'uint32' });
    this.state = openDatabase(store, { name: 'adapter-state', keyEncoding: 'uint32' });
  }

  private current(): StoredState {
    return this.state.get(STATE_KEY) ?? { active: 0, history: [] };
  }

  /** The active version number, 0 for none. */
  get activeVersion(): number {
    return this.current().active;
  }

  /** The active adapter, undefined for none. */
  active(): { version: AdapterVersion; adapter: ResidualAdapter } | undefined {
    const number = this.activeVersion;
    const version = number === 0 ? undefined : this.versions.get(number);
    return version && { version, adapter: adapterFromDocument(version.document, `adapter version ${number}`).adapter };
  }

  /** Stores a run's candidate, activating it if `activate`; returns its version number. */
  add(document: AdapterDocument, activate: boolean, now: number): number {
    return this.versions.transactionSync(() => {
      const last = [...this.versions.getKeys({ reverse: true, limit: 1 })][0] ?? 0;
      const version = last + 1;
      this.versions.putSync(version, { version, document, activated: activate, createdAt: now });
      if (activate) {
        const state = this.current();
        this.state.putSync(STATE_KEY, { active: version, history: [...state.history, state.active] });
      }
      return version;
    });
  }

  /** Returns to the version active before the current one; undefined when none is active. */
  rollback(): { from: number; to: number } | undefined {
    return this.versions.transactionSync(() => {
      const state = this.current();
      if (state.active === 0) return undefined;
      const history = [...state.history];
      const to = history.pop() ?? 0;
      this.state.putSync(STATE_KEY, { active: to, history });
      return { from: state.active, to };
    });
  }

  get(version: number): AdapterVersion | undefined {
    return this.versions.get(version);
  }

  /** Every stored version, newest first. */
  list(limit = 20): AdapterVersion[] {
    return [...this.versions.getRange({ reverse: true, limit })].map(({ value }) => value);
  }
}
