/**
 * Shared subscription executions: clients subscribing with the same document, variables and
 * access (a phone app on many phones, a dashboard in many tabs) share one GraphQL execution per
 * event, and each gets the same result. Without this, yoga executes every event once per client,
 * which is what made fan-out to 100 clients slow.
 *
 * Each client keeps its own bounded queue, so a slow one only loses its own oldest updates. The
 * shared execution ends when its last client leaves, which closes its bus subscription.
 *
 * Sharing is only between callers who would get identical results: the sessions of one person
 * (the administrator, or one household) reading the same meters, or the tokens of one app
 * authorization. Each client's credential is still re-checked, at most every
 * `recheckMs` while events flow and every `idleRecheckMs` when none do: a revoked or expired token,
 * an ended session, or a meter since given to another household, gets one `UNAUTHENTICATED` error
 * and the end of its stream instead of further data.
 *
 * @module
 */

import type { Plugin } from "graphql-yoga";
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  print,
} from "graphql";
import { type Access, accessEndReason, readerKey } from "./access.ts";
import type { GraphqlContext } from "./context.ts";

export interface SharedSubscriptionsOptions {
  /** Least time between re-checks of one client's credential while events flow (default 1000 ms). */
  recheckMs?: number;
  /** How often every client's credential is checked when no events flow (default 5000 ms). */
  idleRecheckMs?: number;
  /** Results queued for one client before its oldest are dropped (default 256). */
  maxQueued?: number;
}

/** Counts for `/metrics` and tests. */
export interface SharedSubscriptionStats {
  /** Executions running: one per distinct (document, variables, access). */
  readonly executions: number;
  /** Clients following them. */
  readonly clients: number;
}

type Results = AsyncIterableIterator<ExecutionResult>;
type SubscribeResult = Results | ExecutionResult;
type Subscribe = (args: ExecutionArgs) => SubscribeResult | Promise<SubscribeResult>;

/** The yoga plugin, and its live counts. */
export function sharedSubscriptions(
  options: SharedSubscriptionsOptions = {},
): { plugin: Plugin<GraphqlContext>; stats: SharedSubscriptionStats } {
  const recheckMs = options.recheckMs ?? 1000;
  const idleRecheckMs = Math.max(10, options.idleRecheckMs ?? 5000);
  const maxQueued = Math.max(1, options.maxQueued ?? 256);
  const executions = new Map<string, SharedExecution>();
  const plugin: Plugin<GraphqlContext> = {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(
        ((args: ExecutionArgs) => {
          const context = args.contextValue as GraphqlContext;
          const key = executionKey(args, context.access);
          let execution = executions.get(key);
          if (execution === undefined) {
            execution = new SharedExecution(
              Promise.resolve().then(() => (subscribeFn as Subscribe)(args)),
              { idleRecheckMs, onEnd: () => executions.delete(key) },
            );
            executions.set(key, execution);
          }
          const endReason = () => accessEndReason(context.services, context.access);
          return execution.join(new Client({ maxQueued, recheckMs, endReason }));
        }) as typeof subscribeFn,
      );
    },
  };
  const stats: SharedSubscriptionStats = {
    get executions() {
      return executions.size;
    },
    get clients() {
      let clients = 0;
      for (const execution of executions.values()) clients += execution.clientCount;
      return clients;
    },
  };
  return { plugin, stats };
}

/** Printed documents by parsed document: yoga's parser cache hands out the same object. */
const printedDocuments = new WeakMap<DocumentNode, string>();

function executionKey(args: ExecutionArgs, access: Access): string {
  let printed = printedDocuments.get(args.document);
  if (printed === undefined) printedDocuments.set(args.document, printed = print(args.document));
  return JSON.stringify([
    printed,
    args.operationName ?? null,
    args.variableValues ?? {},
    readerKey(access),
  ]);
}

/** One execution and the clients following it. */
class SharedExecution {
  #clients = new Set<Client>();
  #source: Promise<SubscribeResult>;
  #results: Results | null = null;
  #ended = false;
  readonly #onEnd: () => void;
  readonly #idleChecks: ReturnType<typeof setInterval>;

  constructor(
    source: Promise<SubscribeResult>,
    options: { idleRecheckMs: number; onEnd: () => void },
  ) {
    this.#source = source;
    this.#onEnd = options.onEnd;
    // A quiet meter sends nothing for a while: credentials must not outlive their revocation then
    // either. The timer does not keep the process alive.
    this.#idleChecks = setInterval(() => {
      for (const client of this.#clients) client.recheck();
    }, options.idleRecheckMs);
    Deno.unrefTimer(this.#idleChecks);
    source.then(
      (result) => {
        if (!isResults(result)) return this.#end();
        this.#results = result;
        // Everyone may have left while the subscription was being set up.
        if (this.#clients.size === 0) return this.#end();
        void this.#pump(result);
      },
      () => this.#end(),
    );
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  /** The client's stream, or the execution's error result when it could not start. */
  async join(client: Client): Promise<SubscribeResult> {
    this.#clients.add(client);
    client.onLeave = () => this.#leave(client);
    let result: SubscribeResult;
    try {
      result = await this.#source;
    } catch (error) {
      this.#clients.delete(client);
      throw error;
    }
    if (!isResults(result)) {
      this.#clients.delete(client);
      return result;
    }
    return client;
  }

  async #pump(results: Results): Promise<void> {
    try {
      while (true) {
        const next = await results.next();
        if (next.done) break;
        const result = withSharedText(next.value);
        for (const client of this.#clients) client.offer(result);
      }
      for (const client of this.#clients) client.finish();
    } catch (error) {
      for (const client of this.#clients) client.fail(error);
    }
    this.#end();
  }

  #leave(client: Client): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#idleChecks);
    this.#onEnd();
    void this.#results?.return?.();
  }
}

interface ClientOptions {
  maxQueued: number;
  recheckMs: number;
  /** Why the stream must end now (its last message), or null. */
  endReason: () => GraphQLError | null;
}

/** One client's view of a shared execution: its own queue, its own credential. */
class Client implements Results {
  onLeave: () => void = () => {};
  #queue: ExecutionResult[] = [];
  #waiting: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
  #failWaiting: ((error: unknown) => void) | null = null;
  #failure: { error: unknown } | null = null;
  #closing = false;
  #closed = false;
  #checkedAtMs = performance.now();
  readonly #options: ClientOptions;

  constructor(options: ClientOptions) {
    this.#options = options;
  }

  offer(result: ExecutionResult): void {
    if (this.#closing || this.#closed) return;
    if (performance.now() - this.#checkedAtMs >= this.#options.recheckMs && !this.recheck()) return;
    if (this.#queue.length >= this.#options.maxQueued) this.#queue.shift();
    this.#queue.push(result);
    this.#deliver();
  }

  /** Checks the credential and policy now; when they no longer hold, ends the stream, false. */
  recheck(): boolean {
    if (this.#closing || this.#closed) return false;
    this.#checkedAtMs = performance.now();
    const reason = this.#options.endReason();
    if (reason === null) return true;
    // The last thing this client hears; then its stream ends and it leaves the execution.
    this.#queue = [{ errors: [reason] }];
    this.#closing = true;
    this.onLeave();
    this.#deliver();
    return false;
  }

  finish(): void {
    this.#closing = true;
    this.#deliver();
  }

  fail(error: unknown): void {
    this.#failure = { error };
    this.#closing = true;
    this.#deliver();
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ value: this.#queue.shift()!, done: false });
    }
    if (this.#failure !== null) {
      const { error } = this.#failure;
      this.#failure = null;
      this.#close();
      return Promise.reject(error);
    }
    if (this.#closing || this.#closed) {
      this.#close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.#queue = [];
    this.#close();
    this.#deliver();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): Results {
    return this;
  }

  /** Hands the next queued result (or the end) to a `next()` that is waiting. */
  #deliver(): void {
    if (this.#waiting === null) return;
    if (this.#queue.length === 0 && !this.#closing && !this.#closed) return;
    const resolve = this.#waiting;
    const reject = this.#failWaiting!;
    this.#waiting = this.#failWaiting = null;
    this.next().then(resolve, reject);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onLeave();
  }
}

/**
 * The result with a `stringify` that serializes it once for every client: yoga's SSE writer uses
 * a result's own `stringify` when it has one, and every client gets the same text.
 */
function withSharedText(result: ExecutionResult): ExecutionResult {
  let text: string | undefined;
  return { ...result, stringify: (value: unknown) => (text ??= JSON.stringify(value)) } as
    & ExecutionResult
    & { stringify: (value: unknown) => string };
}

function isResults(result: SubscribeResult): result is Results {
  return typeof (result as Results)[Symbol.asyncIterator] === "function";
}
