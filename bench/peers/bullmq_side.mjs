// BullMQ's side of bench/peers.py, run by Node.js, with the same commands as boltq_side.py:
//
//   node bullmq_side.mjs drain-worker URL NAME COUNT_KEY N CONCURRENCY [auto]  // a Worker
//   node bullmq_side.mjs latency-worker URL NAME LAT_KEY                  // a Worker, defaults
//   node bullmq_side.mjs submit URL NAME N          // one queue.add at a time
//   node bullmq_side.mjs bulk URL NAME N BATCH      // queue.addBulk of BATCH jobs at a time
//   node bullmq_side.mjs produce URL NAME N RATE    // paced adds, wall time in the data
//
// Queue and Worker use BullMQ's defaults but for the Worker's concurrency in the drain
// (attempts 1, completed and failed jobs kept, lockDuration 30 s, stalledInterval 30 s,
// drainDelay 5 s, the events stream capped near 10,000). The job body's client is an ioredis
// connection of its own; with `auto`, one with ioredis's enableAutoPipelining.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { createInterface } from 'node:readline';

const [cmd, url, name, ...rest] = process.argv.slice(2);
const u = new URL(url);
const connection = { host: u.hostname, port: Number(u.port), maxRetriesPerRequest: null };
const wall = () => (performance.timeOrigin + performance.now()) / 1000; // seconds, like time.time()
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

async function work(key, n, concurrency, auto) {
  // the job body's own client, as in the other libraries
  const r = new IORedis(auto ? { ...connection, enableAutoPipelining: true } : connection);
  const processor = n
    ? async () => { // the drain job: one INCR
        const t = wall();
        const done = await r.incr(key);
        if (done === 1) await r.set(`${key}:first`, String(t));
        if (done === n) {
          await r.set(`${key}:last`, String(wall()));
          await r.lpush(`${key}:done`, '1');
        }
      }
    : async (job) => { // the latency job: start - submit, one RPUSH
        const t = wall();
        await r.rpush(key, String(t - job.data.t));
      };
  const opts = { connection, autorun: false };
  if (concurrency) opts.concurrency = concurrency;
  const worker = new Worker(name, processor, opts);
  await worker.waitUntilReady();
  await r.ping();
  process.on('SIGTERM', () => process.exit(0));
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  worker.run();
}

async function client(fn) {
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  print(await fn(queue));
  await queue.close();
}

async function submit(queue, n) {
  for (let i = 0; i < 20; i++) await queue.add('incr', {});
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await queue.add('incr', {});
  return { seconds: (performance.now() - t0) / 1000 };
}

async function bulk(queue, n, batch) {
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch) {
    const jobs = [];
    for (let j = i; j < Math.min(i + batch, n); j++) jobs.push({ name: 'incr', data: {} });
    await queue.addBulk(jobs);
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

async function produce(queue, n, rate) {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const left = start + (i * 1000) / rate - performance.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    await queue.add('stamp', { t: wall() });
  }
  return { seconds: (performance.now() - start) / 1000 };
}

if (cmd === 'drain-worker') await work(rest[0], Number(rest[1]), Number(rest[2]), rest[3] === 'auto');
else if (cmd === 'latency-worker') await work(rest[0], 0, 0);
else if (cmd === 'submit') await client((q) => submit(q, Number(rest[0])));
else if (cmd === 'bulk') await client((q) => bulk(q, Number(rest[0]), Number(rest[1])));
else if (cmd === 'produce') await client((q) => produce(q, Number(rest[0]), Number(rest[1])));
else { console.error(`unknown command ${cmd}`); process.exit(2); }
