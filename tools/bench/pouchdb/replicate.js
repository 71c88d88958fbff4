// The peer of `outpost-bench` (scenario 2): the same records replicated by PouchDB, the way a
// PouchDB app would initialise: pouchdb-server holds them, pouchdb-node pulls them into a
// local LevelDB database. Loading the server is not timed; the replication is.
//
// Usage: node replicate.js DOCS.jsonl WORK_DIR
// Prints one JSON line: {"docs": N, "seconds": S, "docs_per_s": R}.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const net = require('net');
const PouchDB = require('pouchdb-node');

const [docsPath, workDir] = process.argv.slice(2);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitUp(url) {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch (_) { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('pouchdb-server did not start');
}

async function main() {
  fs.mkdirSync(path.join(workDir, 'server'), { recursive: true });
  const port = await freePort();
  const bin = path.join(__dirname, 'node_modules', '.bin', 'pouchdb-server');
  const server = spawn(bin, ['--port', String(port), '--host', '127.0.0.1', '--dir', path.join(workDir, 'server'), '--no-stdout-logs'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    // It writes config.json and log.txt into its working folder.
    cwd: workDir,
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitUp(base);
    const remote = new PouchDB(`${base}/bench`);
    // Line by line: at 1M realistic records the file is over 1 GB, past the longest string
    // Node can hold, so reading it whole failed the 1M run.
    const lines = readline.createInterface({ input: fs.createReadStream(docsPath, 'utf8'), crlfDelay: Infinity });
    let batch = [];
    for await (const line of lines) {
      if (!line) continue;
      batch.push(JSON.parse(line));
      if (batch.length === 1000) {
        await remote.bulkDocs(batch);
        batch = [];
      }
    }
    if (batch.length) await remote.bulkDocs(batch);
    const local = new PouchDB(path.join(workDir, 'local'));
    const start = process.hrtime.bigint();
    // PouchDB's defaults, as an app that calls replicate.from gets them.
    const result = await local.replicate.from(remote);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const info = await local.info();
    console.log(JSON.stringify({ docs: info.doc_count, written: result.docs_written, seconds, docs_per_s: info.doc_count / seconds }));
    await local.close();
    await remote.close();
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
