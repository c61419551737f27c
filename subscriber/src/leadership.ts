/**
 * Leader election among subscribers through etcd (etcd3 Election: a key under a lease). The leader's
 * campaign key guards every write (see EndpointStore), so a leader that lost its lease cannot write.
 * A failed campaign (lease lost, etcd gone too long) is retried until stopped.
 */
import { EventEmitter } from 'node:events';
import type { Campaign, Etcd3 } from 'etcd3';
import { DEFAULT_SETTINGS, describeError, type Logger } from '@theseus/services';

export interface LeadershipOptions {
  client: Etcd3;
  /** The election key (EtcdLayout.election('subscriber')). */
  electionKey: string;
  /** This subscriber's id, stored as the leader value. */
  id: string;
  /** Lease TTL: how long a dead leader keeps the role. @defaultValue 10 */
  ttlSeconds?: number;
  logger: Logger;
}

export class Leadership extends EventEmitter<{ elected: [string]; deposed: [string] }> {
  private campaign: Campaign | undefined;
  private running = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The campaign key while leader. */
  leaderKey: string | undefined;

  constructor(private readonly options: LeadershipOptions) {
    super();
  }

  get isLeader(): boolean {
    return this.leaderKey !== undefined;
  }

  start(): void {
    this.running = true;
    this.run();
  }

  private run(): void {
    if (!this.running) return;
    const { client, electionKey, id, logger } = this.options;
    const campaign = client
      .election(electionKey, this.options.ttlSeconds ?? DEFAULT_SETTINGS.subscriber.leaderTtlSeconds)
      .campaign(id);
    this.campaign = campaign;
    campaign.on('elected', () => {
      campaign.getCampaignKey().then(
        (key) => {
          if (this.campaign !== campaign || !this.running) return;
          this.leaderKey = key;
          logger.info('elected leader', { id });
          this.emit('elected', key);
        },
        (err: unknown) => campaign.emit('error', err instanceof Error ? err : new Error(String(err))),
      );
    });
    campaign.on('error', (err: Error) => {
      if (this.campaign !== campaign) return;
      this.campaign = undefined;
      const wasLeader = this.leaderKey !== undefined;
      this.leaderKey = undefined;
      logger.warn('election campaign failed; campaigning again', { error: describeError(err), wasLeader });
      if (wasLeader) this.emit('deposed', describeError(err));
      campaign
        .resign()
        .catch((resignErr: unknown) =>
          logger.debug('resigning the failed campaign failed', { error: describeError(resignErr) }),
        );
      if (this.running) this.retryTimer = setTimeout(() => this.run(), 1_000);
    });
  }

  /**
   * Stops campaigning without resigning, as a crash would: the others take over when the lease runs
   * out, once this process's keepalives stop reaching etcd (the process ends or loses etcd).
   */
  abandon(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.campaign = undefined;
    this.leaderKey = undefined;
  }

  /** Steps down (the next subscriber takes over at once) and stops campaigning. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    const campaign = this.campaign;
    this.campaign = undefined;
    const wasLeader = this.leaderKey !== undefined;
    this.leaderKey = undefined;
    if (wasLeader) this.emit('deposed', 'stopping');
    if (campaign)
      await campaign.resign().catch((err: unknown) =>
        this.options.logger.warn('could not resign leadership; the others take over when its lease ends', {
          error: describeError(err),
        }),
      );
  }
}
