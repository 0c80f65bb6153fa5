// Worker threads that walk parts of the tree in parallel with the main thread, with the same
// synchronous walker. Work moves between threads as batches of units over a MessageChannel read
// synchronously (receiveMessageOnPort), with a shared Int32Array for the signals that must be seen
// within microseconds: a worker that runs dry waits on its state slot, one that is asked to share
// (WANT_WORK) donates the older half of its stack, and every message bumps PENDING so that the main
// thread knows when to read.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { CTL, createWalker, type FsModule, type WalkerConfig, type WalkerReport, type WorkUnit } from './walker.js';

export type FromWorker = { type: 'work'; units: WorkUnit[] } | { type: 'done'; report: WalkerReport };
export type ToWorker = WorkUnit[];

/** Values of a worker's state slot (CTL.WORKER_STATE + index). */
export const WORKER = { BUSY: 0, IDLE: 1 } as const;

export interface WorkerData {
  config: WalkerConfig;
  ctl: SharedArrayBuffer;
  index: number;
  port: MessagePort;
}

type ThreadsModule = Pick<typeof import('node:worker_threads'), 'receiveMessageOnPort'>;

/**
 * The body of a worker thread (self-contained: it is sent as source text). Never returns to its
 * event loop: it sleeps on its state slot until the main thread hands it units or terminates it.
 */
function workerLoop(fs: FsModule, threads: ThreadsModule, data: WorkerData, walkerFactory: typeof createWalker): void {
  const ctl = new Int32Array(data.ctl);
  const walker = walkerFactory(fs, data.config, ctl);
  const { ABORT, WANT_WORK, PENDING, WORKER_STATE } = data.config.slots;
  const stateSlot = WORKER_STATE + data.index;
  const BUSY = 0, IDLE = 1; // mirrors WORKER (this function cannot import)
  const send = (message: FromWorker): void => {
    data.port.postMessage(message);
    Atomics.add(ctl, PENDING, 1);
    Atomics.notify(ctl, PENDING);
  };
  for (;;) {
    Atomics.store(ctl, stateSlot, IDLE);
    Atomics.notify(ctl, PENDING); // the main thread may be waiting for everyone to finish
    let received = threads.receiveMessageOnPort(data.port);
    while (received === undefined) {
      Atomics.wait(ctl, stateSlot, IDLE, 1000);
      received = threads.receiveMessageOnPort(data.port);
    }
    Atomics.store(ctl, stateSlot, BUSY);
    const stack = received.message as WorkUnit[];
    while (Atomics.load(ctl, ABORT) === 0) {
      // Listing a big directory: one slice of names for this thread, one left for the others.
      if (walker.continueListing(stack)) walker.continueListing(stack);
      const unit = stack.pop();
      if (unit === undefined) break;
      walker.processUnit(unit, stack);
      const wanted = Atomics.load(ctl, WANT_WORK);
      if (wanted > 0 && stack.length >= 2 && Atomics.compareExchange(ctl, WANT_WORK, wanted, wanted - 1) === wanted) {
        send({ type: 'work', units: stack.splice(0, stack.length >> 1) });
      }
    }
    walker.closeListings(); // only an abort leaves any open
    send({ type: 'done', report: walker.takeReport() });
  }
}

// `__name` is defined in case a bundler with keepNames wraps the functions' inner names with it.
const WORKER_SOURCE = `'use strict';
const __name = (target) => target;
const threads = require('node:worker_threads');
(${workerLoop.toString()})(require('node:fs'), threads, threads.workerData, (${createWalker.toString()}));
`;

export interface WalkerThread {
  worker: Worker;
  /** The main thread's end of the channel, read with receiveMessageOnPort. */
  port: MessagePort;
  index: number;
}

export function startWorker(config: WalkerConfig, ctl: SharedArrayBuffer, index: number): WalkerThread {
  const { port1, port2 } = new MessageChannel();
  const view = new Int32Array(ctl);
  // BUSY until its loop starts and says IDLE: nothing is handed to a thread still booting.
  Atomics.store(view, CTL.WORKER_STATE + index, WORKER.BUSY);
  const data: WorkerData = { config, ctl, index, port: port2 };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data, transferList: [port2], stdout: false, stderr: false });
  return { worker, port: port1, index };
}

/** Hands units to an idle worker and wakes it. */
export function giveWork(thread: WalkerThread, ctl: Int32Array, units: ToWorker): void {
  // BUSY before the message: once the worker is done with these units it writes IDLE, and a late
  // write of BUSY here would then hide that forever.
  Atomics.store(ctl, CTL.WORKER_STATE + thread.index, WORKER.BUSY);
  thread.port.postMessage(units);
  Atomics.notify(ctl, CTL.WORKER_STATE + thread.index);
}
