/**
 * ESPI notification (the Green Button Connect My Data "notify"): when the store commits new
 * interval data for a meter (a summation, from which intervals are derived), every app that holds
 * an active authorization over that meter's usage point and registered a notify URI is sent a
 * `BatchList` naming its `Batch/Subscription/{id}` resource(s), so it knows to fetch the feed.
 *
 * - Rate limit: at most one notification per app per `minIntervalMs`; new data in between is
 *   coalesced into the next one (each subscription URI once).
 * - Retries: a network error, a timeout or a 5xx is retried with exponential backoff (1 s,
 *   doubling, at most 5 min); after `maxAttempts` POSTs the notification is dropped with a log
 *   line. Retries of one notification are not rate-limited; a 3xx or 4xx is not retried.
 * - Authorizations and the notify URI are re-read when sending, so a subscription revoked in the
 *   meantime is not named.
 * - Never blocks ingest: events come from this notifier's own bounded bus queue and every POST is
 *   asynchronous.
 *
 * @module
 */

import { fallbackLogger } from "../log.ts";
import type { DatabaseSync } from "node:sqlite";
import { findApp } from "../auth/apps.ts";
import { grantOf, listAuthorizations } from "../auth/authorizations.ts";
import { grantPolicy } from "../auth/read_policy.ts";
import { meterOwnership } from "../store/households.ts";
import type { LiveBus } from "../live/bus.ts";
import { findUsagePointId } from "../store/usage_points.ts";
import { espiDocument } from "./atom.ts";
import { batchListInnerXml } from "./resources.ts";

export const NOTIFY_CONTENT_TYPE = "application/atom+xml";

export interface EspiNotifierOptions {
  db: DatabaseSync;
  bus: LiveBus;
  /** The absolute ESPI resource base, e.g. `https://gw.example/espi/1_1/resource`. */
  resourceBaseUrl: string;
  /** Least time between two notifications to one app. Default 60 000. */
  minIntervalMs?: number;
  /** Wait before the first retry, doubled for each further one. Default 1000. */
  firstRetryDelayMs?: number;
  /** Longest wait between retries. Default 300 000. */
  maxRetryDelayMs?: number;
  /** POSTs tried per notification before it is dropped. Default 10. */
  maxAttempts?: number;
  /** Time limit of one POST. Default 10 000. */
  requestTimeoutMs?: number;
  /** Where dropped notifications are reported. Default: the fallback logger. */
  log?: (line: string) => void;
}

export interface EspiNotifier {
  /** Stops listening, cancels waiting and in-flight notifications. */
  stop(): Promise<void>;
}

/** The notification document: a `BatchList` of absolute resource URIs. */
export function notificationBody(resourceUris: string[]): string {
  return espiDocument("BatchList", batchListInnerXml(resourceUris));
}

/** One app's notifications: what is waiting and when the last one went out. */
interface AppQueue {
  /** Subscription ids with new data not yet notified. */
  pendingSubscriptionIds: Set<string>;
  lastSentMs: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  sending: boolean;
}

/** Why one POST failed and whether trying again may help. */
interface PostFailure {
  problem: string;
  retry: boolean;
}

/** Subscribes to the bus and starts notifying. */
export function startEspiNotifier(options: EspiNotifierOptions): EspiNotifier {
  const { db, bus, resourceBaseUrl } = options;
  const minIntervalMs = options.minIntervalMs ?? 60_000;
  const firstRetryDelayMs = options.firstRetryDelayMs ?? 1000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 300_000;
  const maxAttempts = options.maxAttempts ?? 10;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const log = options.log ?? ((line: string) => fallbackLogger.warn(line));
  const queues = new Map<string, AppQueue>();
  const sends = new Set<Promise<void>>();
  const requests = new Set<AbortController>();
  const sleepers = new Set<() => void>();
  let stopped = false;

  const subscription = bus.subscribe({
    filter: (event) => event.type === "stored" && event.event.kind === "summation",
  });

  const sleep = (delayMs: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      sleepers.add(wake);
    });

  /** One POST; null when the receiver accepted it. */
  const post = async (uri: string, body: string): Promise<PostFailure | null> => {
    const controller = new AbortController();
    requests.add(controller);
    const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
    try {
      const response = await fetch(uri, {
        method: "POST",
        headers: { "Content-Type": NOTIFY_CONTENT_TYPE },
        body,
        redirect: "manual",
        signal: controller.signal,
      });
      await response.body?.cancel();
      if (response.ok) return null;
      return { problem: `HTTP ${response.status}`, retry: response.status >= 500 };
    } catch (error) {
      const problem = controller.signal.aborted && !stopped
        ? `no answer within ${requestTimeoutMs} ms`
        : (error as Error).message;
      return { problem, retry: true };
    } finally {
      clearTimeout(timer);
      requests.delete(controller);
    }
  };

  const deliver = async (clientId: string, uri: string, body: string) => {
    for (let attempt = 1;; attempt++) {
      const failure = await post(uri, body);
      if (failure === null || stopped) return;
      if (!failure.retry || attempt >= maxAttempts) {
        log(
          `espi notify: gave up notifying app ${clientId} at ${uri} after ${attempt} ` +
            `attempt(s): ${failure.problem}`,
        );
        return;
      }
      await sleep(Math.min(firstRetryDelayMs * 2 ** (attempt - 1), maxRetryDelayMs));
      if (stopped) return;
    }
  };

  const send = async (clientId: string, queue: AppQueue) => {
    queue.sending = true;
    try {
      const subscriptionIds = queue.pendingSubscriptionIds;
      queue.pendingSubscriptionIds = new Set();
      const notifyUri = findApp(db, clientId)?.notifyUri ?? null;
      const uris = listAuthorizations(db, { clientId })
        .filter((a) => a.status === "active" && subscriptionIds.has(a.subscriptionId))
        .map((a) => `${resourceBaseUrl}/Batch/Subscription/${a.subscriptionId}`);
      if (notifyUri === null || uris.length === 0) return;
      queue.lastSentMs = Date.now();
      await deliver(clientId, notifyUri, notificationBody(uris));
    } catch (error) {
      log(`espi notify: app ${clientId}: ${(error as Error).message}`);
    } finally {
      queue.sending = false;
      schedule(clientId, queue);
    }
  };

  /** Sends what is pending as soon as the rate limit allows, unless a send is under way. */
  function schedule(clientId: string, queue: AppQueue) {
    if (stopped || queue.sending || queue.timer !== undefined) return;
    if (queue.pendingSubscriptionIds.size === 0) return;
    const delayMs = Math.max(0, queue.lastSentMs + minIntervalMs - Date.now());
    queue.timer = setTimeout(() => {
      queue.timer = undefined;
      const sending = send(clientId, queue);
      sends.add(sending);
      sending.finally(() => sends.delete(sending));
    }, delayMs);
  }

  const onNewData = (meterKey: string) => {
    const usagePointId = findUsagePointId(db, meterKey);
    // A device-level event (deviceInfo, meterList) is committed without storing a meter.
    if (usagePointId === null) return;
    // Read once for every authorization of this event.
    const ownership = meterOwnership(db);
    for (const authorization of listAuthorizations(db)) {
      const grant = grantOf(authorization);
      // The read policy, not the stored list: a meter that moved to a neighbour notifies no one.
      if (grant === null || !grantPolicy(db, grant, ownership).usagePointIds.has(usagePointId)) {
        continue;
      }
      const clientId = authorization.clientId;
      if ((findApp(db, clientId)?.notifyUri ?? null) === null) continue;
      let queue = queues.get(clientId);
      if (queue === undefined) {
        queue = {
          pendingSubscriptionIds: new Set(),
          lastSentMs: -Infinity,
          timer: undefined,
          sending: false,
        };
        queues.set(clientId, queue);
      }
      queue.pendingSubscriptionIds.add(authorization.subscriptionId);
      schedule(clientId, queue);
    }
  };

  const listening = (async () => {
    for await (const event of subscription) {
      if (event.type !== "stored") continue;
      try {
        onNewData(event.meterKey);
      } catch (error) {
        log(`espi notify: ${(error as Error).message}`);
      }
    }
  })();

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      subscription.close();
      for (const queue of queues.values()) clearTimeout(queue.timer);
      for (const controller of requests) controller.abort();
      for (const wake of sleepers) wake();
      await listening;
      await Promise.all(sends);
    },
  };
}
