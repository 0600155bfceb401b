// Interoperability with software nobody here wrote (issue 4): TAYGA as the CLAT in front of the
// xlat64 PLAT, and the xlat64 CLAT in front of TAYGA + nft NAT44 as the PLAT. Each pairing must
// carry ping and HTTP content (a 4 MiB file checked by SHA-256) from the client's IPv4 through the
// CLAT, and the server must see the NAT64 pool as the source.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eLab, type E2eLab, HELLO, SERVER_V4 } from './support.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function interopChecks(lab: E2eLab, translated: 'plat' | 'clat') {
  it('answers ping through the CLAT', () => {
    // Proves ICMPv4 echo crosses a CLAT and a PLAT written by different people.
    const out = lab.check('client', ['ping', '-c', '3', '-i', '0.2', '-W', '3', SERVER_V4]);
    expect(out).toContain('3 received');
  });

  it('downloads HTTP content intact through the CLAT (index page and 4 MiB by SHA-256)', () => {
    // Proves TCP data crosses the mixed pair unchanged.
    const page = lab.check('client', ['curl', '-sS', '--max-time', '10', `http://${SERVER_V4}:8000/`]);
    expect(page.trim()).toBe(HELLO);
    const file = lab.exec('client', [
      'curl',
      '-sS',
      '--max-time',
      '30',
      '--speed-time',
      '4',
      '--speed-limit',
      '500000',
      `http://${SERVER_V4}:8000/4MiB.bin`,
    ]);
    expect(file.length).toBe(4 * 1024 * 1024);
    expect(sha256(file)).toBe(readFileSync(`${lab.runDir}/www/4MiB.sha256`, 'utf8').trim());
  });

  it(`the server saw the NAT64 pool, and the xlat64 ${translated.toUpperCase()} counted the traffic`, () => {
    // Proves the traffic really went through the xlat64 role of the pair (its counters moved).
    const log = readFileSync(`${lab.runDir}/http.log`, 'utf8');
    expect(log).toMatch(/^203\.0\.113\.\d+ .*"GET \/4MiB\.bin HTTP/m);
    expect(log).not.toMatch(/^(192\.0\.[02]\.|198\.51\.100\.)/m);
    // The 4 MiB download went IPv4->IPv6 at the PLAT and IPv6->IPv4 at the CLAT.
    const counters = lab.counters(translated);
    const downloadBytes = translated === 'plat' ? counters['tx.bytes46'] : counters['tx.bytes64'];
    expect(downloadBytes).toBeGreaterThan(4 * 1024 * 1024);
    expect(counters[translated === 'plat' ? 'tx.packets64' : 'tx.packets46']).toBeGreaterThan(0);
  });
}

describe('TAYGA CLAT in front of the xlat64 PLAT', () => {
  const lab = createE2eLab('e2e-interop-tc', { plat: 'xlat64', clat: 'tayga' });
  beforeAll(() => {
    lab.up();
  });
  afterAll(() => {
    lab.teardown();
  });
  interopChecks(lab, 'plat');
});

describe('xlat64 CLAT in front of TAYGA + NAT44 as the PLAT', () => {
  const lab = createE2eLab('e2e-interop-tp', { plat: 'tayga', clat: 'xlat64' });
  beforeAll(() => {
    lab.up();
  });
  afterAll(() => {
    lab.teardown();
  });
  interopChecks(lab, 'clat');
});
