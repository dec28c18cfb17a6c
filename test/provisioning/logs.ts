// Manufacturing and shipment logs for provisioning tests, written here so each test knows every
// row it put in: which rows are bad, and why.
export type BadRowKind = 'missing-id' | 'unknown-hardware' | 'unknown-firmware' | 'duplicate-id' | 'malformed-row';

export const BAD_KINDS: readonly BadRowKind[] = ['missing-id', 'unknown-hardware', 'unknown-firmware', 'duplicate-id', 'malformed-row'];

export const MANUFACTURING_HEADER = 'id,hardware,imei,iccid,bleMac,test,fw.mcu,fw.ble';

export function deviceId(n: number): string {
  return `TR-${String(n).padStart(6, '0')}`;
}

function goodRow(n: number): string {
  const imei = `35${String(n).padStart(13, '0')}`;
  const iccid = `8901${String(n).padStart(15, '0')}`;
  const mac = `AA:BB:${String(n % 100).padStart(2, '0')}:${String((n >> 7) % 100).padStart(2, '0')}:00:01`;
  return `${deviceId(n)},tr,${imei},${iccid},${mac},pass,1.0.0,1.0.0`;
}

function badRow(kind: BadRowKind, n: number): string {
  switch (kind) {
    case 'missing-id':
      return goodRow(n).replace(deviceId(n), '');
    case 'unknown-hardware':
      return goodRow(n).replace(',tr,', ',zz9,');
    case 'unknown-firmware':
      return goodRow(n).replace(/1\.0\.0,1\.0\.0$/, '1.0.0,9.9.9');
    case 'duplicate-id':
      // Repeats the first device's id: the first row proceeds, this one fails.
      return goodRow(n).replace(deviceId(n), deviceId(1));
    case 'malformed-row':
      return n % 2 === 0 ? `${deviceId(n)},tr,"unclosed quote,1,2,pass,1.0.0,1.0.0` : `${deviceId(n)},tr,1.0.0`;
  }
}

export interface GeneratedLogs {
  manufacturing: string;
  shipments: string;
  /** data row number → the kind of badness put there. */
  bad: Map<number, BadRowKind>;
  /** ids of the rows expected to be provisioned. */
  goodIds: string[];
}

/**
 * `rows` data rows; `badCount` of them bad (kinds in turn), spread through the file. Every good
 * device is shipped: most to plant-1 (tenant acme), every tenth to depot-9 (globex).
 */
export function generateLogs(rows: number, badCount: number): GeneratedLogs {
  const bad = new Map<number, BadRowKind>();
  const step = Math.floor(rows / (badCount + 1));
  for (let i = 0; i < badCount; i++) bad.set(step * (i + 1) + 1, BAD_KINDS[i % BAD_KINDS.length]!);
  const lines = [MANUFACTURING_HEADER];
  const shipments = ['id,site,shippedAt'];
  const goodIds: string[] = [];
  for (let n = 1; n <= rows; n++) {
    const kind = bad.get(n);
    lines.push(kind ? badRow(kind, n) : goodRow(n));
    if (!kind) {
      goodIds.push(deviceId(n));
      shipments.push(`${deviceId(n)},${n % 10 === 0 ? 'depot-9' : 'plant-1'},2026-11-2${n % 3}`);
    }
  }
  return { manufacturing: `${lines.join('\n')}\n`, shipments: `${shipments.join('\n')}\n`, bad, goodIds };
}
