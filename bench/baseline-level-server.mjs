// Baseline for the single-item benchmark: a bare node:http server that parses
// the same JSON body and does one direct LevelDB put per request. Plain
// JavaScript, so it runs as dstore's compiled dist/ does (no tsx loader).
import { createServer } from 'node:http';
import { ClassicLevel } from 'classic-level';

const db = new ClassicLevel(process.env['LEVEL_PATH'], { valueEncoding: 'utf8' });
await db.open();
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let item;
    try {
      item = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const key = `myblog/v${String(item.project_version).padStart(10, '0')}/article/${item.id}`;
    db.put(key, JSON.stringify(item)).then(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"state":"applied"}'),
      () => res.writeHead(500).end(),
    );
  });
});
server.listen(Number(process.env['PORT']), '127.0.0.1', () => console.log('listening on', process.env['PORT']));
process.on('SIGTERM', () => server.close(() => db.close().then(() => process.exit(0))));
