/**
 * crosscam run: cameras → vision pipelines → identity decisions → MQTT, wired over a
 * typed event bus. Stages start in data-flow order and stop in reverse; SIGHUP reloads
 * the cameras, SIGTERM drains (see stop()).
 */
import type { CameraConfig, CrosscamConfig } from '../config/schema.js';
import { configSecrets } from '../config/secrets.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import { OperatorError } from '../core/operator-error.js';
import { redactCredentials, type SecretRedactor } from '../core/redaction.js';
import { openStateStore } from '../core/state-store.js';
import { openCameraColour, type CameraColour } from '../colour/camera-colour.js';
import type { Gallery } from '../gallery/gallery.js';
import { CameraSource } from '../ingest/camera-source.js';
import { CameraPipeline } from '../pipeline/camera-pipeline.js';
import { openAdaptation, type Adaptation } from '../adapt/adaptation.js';
import { assertStartupEnvironment, cameraPipelineOptions, detectorOutputFilter, openVisionModels, readConfigFile, type VisionModels } from '../pipeline/setup.js';
import { createOperatorSurface, type OperatorSurface } from '../http/operator-surface.js';
import { buildStatsMessage } from '../publish/builders.js';
import { homeAssistantDiscovery } from '../publish/home-assistant.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../publish/embedded-broker.js';
import { MqttPublisher } from '../publish/mqtt-publisher.js';
import { Outbox } from '../publish/outbox.js';
import type { StorageGuard } from '../storage/storage-guard.js';
import { CameraWorker } from './camera-worker.js';
import { operatorCommands } from './commands.js';
import { cameraSourceOptions, publisherOptions } from './daemon-options.js';
import type { DaemonEvents } from './daemon-events.js';
import { EventBus } from './event-bus.js';
import { createIdentityStage } from './identity.js';
import type { MatchStage } from './match-stage.js';
import { PublishStage } from './publish-stage.js';
import { Scheduler } from './scheduler.js';
import { SystemdWatchdog, systemdNotify } from './systemd-watchdog.js';

const STORAGE_CHECK_MS = 10_000;

export interface DaemonOptions {
  configFile: string;
  logger: Logger;
  /** The logger's redactor: learns the config's secrets at start and on reload. */
  redactor?: SecretRedactor;
  /** Overrides config models.dir. */
  modelsDir?: string;
}

export class Daemon {
  private readonly workers = new Map<string, { camera: CameraConfig; worker: CameraWorker }>();
  private readonly startedAt = Date.now();
  private statsTimer: NodeJS.Timeout | undefined;
  private storageTimer: NodeJS.Timeout | undefined;
  private cpu = { usage: process.cpuUsage(), at: performance.now() };
  private stopping: Promise<void> | undefined;

  private constructor(
    private config: CrosscamConfig,
    private readonly parts: {
      options: DaemonOptions;
      logger: Logger;
      bus: EventBus<DaemonEvents>;
      store: ReturnType<typeof openStateStore>;
      colour: CameraColour | undefined;
      gallery: Gallery;
      models: VisionModels;
      broker: EmbeddedBroker | undefined;
      publisher: MqttPublisher;
      matchStage: MatchStage;
      publishStage: PublishStage;
      scheduler: Scheduler;
      adaptation: Adaptation;
      storage: StorageGuard;
      surface: OperatorSurface;
      watchdog: SystemdWatchdog;
    },
  ) {}

  static async start(options: DaemonOptions): Promise<Daemon> {
    const { logger } = options;
    const loaded = await readConfigFile(options.configFile);
    const { config } = loaded;
    options.redactor?.remember(configSecrets(config));
    logger.level = config.log.level;
    assertStartupEnvironment(options.configFile, config);
    const bus = new EventBus<DaemonEvents>(logger);
    // Metrics read the stages when scraped; they exist only once the daemon does.
    const late: { daemon?: Daemon; publishStage?: PublishStage } = {};
    const surface = createOperatorSurface(config, {
      bus,
      logger,
      sources: {
        cameras: () => late.daemon?.cameraCounters() ?? [],
        gallery: () => late.daemon?.parts.gallery.stats() ?? { identities: 0, sightings: 0 },
        outbox: () => late.daemon?.parts.publisher.counts() ?? { pending: 0, dropped: 0 },
        mqttConnected: () => late.daemon?.parts.publisher.connected ?? false,
      },
      publishCameraSnapshot: (cameraId, jpeg) => late.daemon?.parts.publisher.publishCameraSnapshot(cameraId, jpeg),
    });
    const models = await openVisionModels({
      ...loaded,
      logger,
      ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}),
      onInference: (model, provider, seconds, items) => surface.metrics.observeInference(model, provider, seconds, items),
    });
    const store = openStateStore({ path: config.gallery.path, mapSizeMb: config.gallery.map_size_mb });
    // The publish stage exists once the publisher does, which needs the gallery: bound late.
    const { space, calibration, gallery, matcher, matchStage, storage } = createIdentityStage(loaded, {
      store,
      bus,
      logger,
      announce: (decision) => late.publishStage?.announceDecision(decision),
      storage: surface.snapshots ? { snapshots: surface.snapshots } : {},
    });
    if (storage === undefined) throw new Error('the identity stage was opened without its storage guard');
    const { adaptation, trackLog } = openAdaptation(config.adapt, {
      store,
      space,
      logger,
      onChange: (change) => bus.emit('adapterChanged', change),
      // A new adapter changes every similarity: the pair medians are measured anew in its space.
      onApplied: (version) => calibration?.useAdapterVersion(version),
      inWorker: true,
    });
    // A restart keeps the active adapter.
    adaptation.sync();
    bus.on('track', 'adapt', (event) => {
      trackLog.record(event).catch((error: unknown) => logger.warn({ err: error }, 'adaptation: an ended track could not be logged for training'));
    });
    const { embedded_broker: embedded } = config.mqtt;
    const broker = embedded.enabled
      ? await startEmbeddedBroker({ host: embedded.host, port: embedded.port, logger }).catch((error: NodeJS.ErrnoException) => {
          throw new OperatorError(`mqtt.embedded_broker.port: cannot listen on ${embedded.host}:${embedded.port} (${error.code ?? error.message}); choose a free port or disable the embedded broker`, ExitCode.CONFIG);
        })
      : undefined;
    const outbox = new Outbox(store, { maxMessages: config.mqtt.outbox.max_messages, logger });
    const commands = operatorCommands({
      gallery,
      matcher,
      embedders: models.embedders,
      watchlist: { max: config.matching.watchlist.max, perMinute: config.matching.watchlist.per_minute },
      ...(surface.snapshots ? { snapshots: surface.snapshots } : {}),
    });
    const publisher = new MqttPublisher(publisherOptions(config, { outbox, commands, logger, ...(broker ? { brokerUrl: broker.url } : {}) }));
    const daemon = new Daemon(config, {
      options,
      logger,
      bus,
      store,
      colour: openCameraColour(config.features.colour_normalisation, store),
      gallery,
      models,
      broker,
      publisher,
      matchStage,
      publishStage: (late.publishStage = new PublishStage({ bus, publisher, logger, snapshots: surface.links })),
      scheduler: new Scheduler({
        gallery,
        bus,
        logger,
        retentionCron: config.schedules.retention,
        reclusterCron: config.schedules.recluster,
        adapt: { cron: config.schedules.adapt, run: () => adaptation.run() },
        mergeThreshold: config.matching.merge_threshold,
        ...(surface.snapshots ? { snapshots: surface.snapshots, snapshotMaxAgeMs: config.gallery.retention.sightings_days * 86_400_000 } : {}),
        ...(config.schedules.timezone !== undefined ? { timezone: config.schedules.timezone } : {}),
      }),
      adaptation,
      storage,
      surface,
      watchdog: new SystemdWatchdog({
        env: process.env,
        notify: systemdNotify({ env: process.env }),
        cameras: () => late.daemon?.frameFlow() ?? [],
        statusLine: () => late.daemon?.statusLine() ?? 'starting',
        stallMs: config.ffmpeg.stall_timeout_s * 1000,
        logger,
      }),
    });
    late.daemon = daemon;
    await surface.start({
      cameras: () => daemon.cameraCounters(),
      gallery,
      commands,
      readiness: () => {
        const counters = daemon.cameraCounters();
        return {
          modelsLoaded: true,
          mqttConnected: publisher.connected,
          outboxAccepting: publisher.counts().pending < config.mqtt.outbox.max_messages,
          camerasOnline: counters.filter((camera) => camera.status.state === 'online').length,
          storage: storage.report().state,
        };
      },
    });
    daemon.announceToHomeAssistant([]);
    daemon.parts.publisher.start();
    daemon.parts.publishStage.start();
    daemon.parts.matchStage.start();
    daemon.parts.scheduler.start();
    for (const camera of config.cameras.filter((c) => c.enabled)) daemon.startCamera(camera);
    daemon.statsTimer = setInterval(() => daemon.publishStats(), config.mqtt.stats_interval_s * 1000);
    // Room is also made when no track ends (retention alone may not keep up), and held decisions go in.
    daemon.storageTimer = setInterval(() => {
      storage.check();
      matchStage.retryHeld();
      // An adapter activated or rolled back by `crosscam adapt` takes effect (and is announced) here.
      adaptation.sync();
    }, STORAGE_CHECK_MS);
    storage.check();
    logger.info(
      { node: config.node_id, cameras: [...daemon.workers.keys()], providers: models.providers, broker: redactCredentials(broker?.url ?? config.mqtt.url) },
      `crosscam running: ${daemon.workers.size} cameras, node ${config.node_id}`,
    );
    await daemon.parts.watchdog.ready();
    return daemon;
  }

  get shutdownTimeoutS(): number {
    return this.config.service.shutdown_timeout_s;
  }

  /** SIGHUP: re-reads the config and restarts only the cameras that were added, removed or changed. */
  async reload(): Promise<void> {
    const { logger } = this.parts;
    let next: CrosscamConfig;
    try {
      next = (await readConfigFile(this.parts.options.configFile)).config;
      assertStartupEnvironment(this.parts.options.configFile, next);
      this.parts.options.redactor?.remember(configSecrets(next));
    } catch (error) {
      logger.error({ err: error }, `config reload refused, keeping the running config: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const wanted = new Map(next.cameras.filter((c) => c.enabled).map((c) => [c.id, c]));
    const changed = [...this.workers.values()].filter(({ camera }) => JSON.stringify(camera) !== JSON.stringify(wanted.get(camera.id)));
    await Promise.all(changed.map(({ camera }) => this.stopCamera(camera.id, !wanted.has(camera.id))));
    // Cameras and the log level apply now; other sections are wired into running stages.
    const sections = (Object.keys(next) as (keyof CrosscamConfig)[]).filter(
      (key) => key !== 'cameras' && key !== 'log' && JSON.stringify(next[key]) !== JSON.stringify(this.config[key]),
    );
    this.config = { ...this.config, cameras: next.cameras, log: next.log };
    logger.level = next.log.level;
    // New cameras may want classes or scores the detector was opened without.
    if (wanted.size > 0) this.parts.models.detector.setOutputFilter(detectorOutputFilter([...wanted.values()]));
    for (const camera of wanted.values()) if (!this.workers.has(camera.id)) this.startCamera(camera);
    this.announceToHomeAssistant(changed.map((c) => c.camera.id).filter((id) => !wanted.has(id)));
    if (sections.length > 0) logger.warn({ sections }, `config sections ${sections.join(', ')} changed: they take effect at the next restart`);
    logger.info({ restarted: changed.map((c) => c.camera.id), cameras: [...this.workers.keys()] }, 'config reloaded');
  }

  /**
   * SIGTERM: cameras stop (the frame in hand finishes, live tracks end and are decided),
   * every event reaches the outbox, the outbox is flushed to the broker, `offline` is
   * published, then the gallery is closed.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const { parts } = this;
    clearInterval(this.statsTimer);
    clearInterval(this.storageTimer);
    await parts.watchdog.stopping();
    await Promise.all([...this.workers.keys()].map((id) => this.stopCamera(id, false)));
    await parts.scheduler.stop();
    await parts.adaptation.stop();
    // Decisions still waiting for storage room get a last chance; what remains is said.
    parts.storage.check();
    parts.matchStage.retryHeld();
    const held = parts.matchStage.heldDecisions();
    if (held > 0) parts.logger.error({ held }, `${held} decisions could not be stored before stopping (no storage room): they are lost`);
    parts.matchStage.stop();
    await parts.publishStage.settled();
    parts.publishStage.stop();
    await parts.publisher.stop({ drainTimeoutMs: this.config.service.shutdown_timeout_s * 1000 * 0.6 });
    await parts.surface.stop();
    await parts.broker?.stop();
    await parts.models.release();
    parts.gallery.close();
    await parts.store.close();
    parts.logger.info('crosscam stopped');
  }

  private startCamera(camera: CameraConfig): void {
    const { parts } = this;
    const logger = parts.logger.child({ camera: camera.id });
    const worker = new CameraWorker({
      source: new CameraSource(cameraSourceOptions(this.config, camera, logger)),
      pipeline: new CameraPipeline(cameraPipelineOptions(this.config, camera, parts.models, { colour: parts.colour })),
      bus: parts.bus,
      logger,
      zones: camera.zones,
      updateIntervalS: this.config.track.update_interval_s,
      statusIntervalS: this.config.service.status_interval_s,
      ...(this.config.matching.decide_early ? { readyAfterCrops: this.config.embed.best_crops } : {}),
      ...(parts.surface.snapshots ? { snapshots: parts.surface.snapshots } : {}),
    });
    this.workers.set(camera.id, { camera, worker });
    worker.start();
  }

  private async stopCamera(id: string, removed: boolean): Promise<void> {
    const entry = this.workers.get(id);
    if (!entry) return;
    this.workers.delete(id);
    await entry.worker.stop();
    if (removed) {
      this.parts.publisher.clearCameraStatus(id);
      this.parts.surface.snapshots?.dropCamera(id);
    }
  }

  /** Home Assistant discovery for the enabled cameras (opt-in); removed cameras' entities are deleted. */
  private announceToHomeAssistant(removed: readonly string[]): void {
    const { home_assistant: discovery } = this.config.mqtt;
    if (!discovery.enabled) return;
    const cameras = this.config.cameras.filter((camera) => camera.enabled).map((camera) => ({ id: camera.id, name: camera.name }));
    const options = { prefix: discovery.discovery_prefix, nodeId: this.config.node_id, topics: this.parts.publisher.topics };
    this.parts.publisher.publishDiscovery(homeAssistantDiscovery(options, cameras, removed));
  }

  /** Each running camera's totals with its configured name. */
  cameraCounters() {
    return [...this.workers.values()].map(({ camera, worker }) => ({ ...worker.counters(), name: camera.name }));
  }

  private frameFlow() {
    return this.cameraCounters().map((camera) => ({
      cameraId: camera.cameraId,
      online: camera.status.state === 'online',
      lastProcessedAt: camera.lastProcessedAt,
      onlineSince: camera.status.since,
    }));
  }

  /** `systemctl status` line: cameras online, frames, matches, MQTT. */
  private statusLine(): string {
    const cameras = this.cameraCounters();
    const online = cameras.filter((camera) => camera.status.state === 'online').length;
    const fps = cameras.reduce((sum, camera) => sum + camera.status.fps, 0);
    const gallery = this.parts.gallery.stats();
    const storage = this.parts.storage.report().state;
    return `${online}/${cameras.length} cameras online, ${fps.toFixed(1)} fps, ${gallery.identities} identities, MQTT ${this.parts.publisher.connected ? 'connected' : `disconnected (${this.parts.publisher.counts().pending} queued)`}${storage === 'ok' ? '' : `, STORAGE ${storage.toUpperCase()}`}`;
  }

  private publishStats(): void {
    const { parts } = this;
    const now = performance.now();
    const usage = process.cpuUsage(this.cpu.usage);
    const cpuPercent = ((usage.user + usage.system) / 1000 / (now - this.cpu.at)) * 100;
    this.cpu = { usage: process.cpuUsage(), at: now };
    const gallery = parts.gallery.stats();
    const outbox = parts.publisher.counts();
    const snapshot = {
      at: Date.now(),
      uptimeS: (Date.now() - this.startedAt) / 1000,
      cameras: [...this.workers.values()].map(({ worker }) => worker.takeStats()),
      gallery: { identities: gallery.identities, sightings: gallery.sightings },
      matchesLastHour: parts.surface.feed.flowCounts().reduce((sum, pair) => sum + pair.count, 0),
      storage: { ...parts.storage.report(), heldDecisions: parts.matchStage.heldDecisions() },
      outbox: { pending: outbox.pending, dropped: outbox.dropped },
      providers: parts.models.providers,
      process: { cpuPercent, rssBytes: process.memoryUsage().rss },
      adapter: parts.adaptation.summary(),
    };
    parts.publisher.publishStats(buildStatsMessage(snapshot));
    parts.logger.debug({ stats: snapshot }, 'stats');
  }
}
