// The figures a person watching a job needs: how far, how fast, how long still. Computed from
// counts and times the caller gives (the job's creation, now), so every engine process answers
// the same for the same job.

export interface JobFigures {
  /** Rows settled (done or failed) of all rows. */
  settled: number;
  total: number;
  /** 0..1. */
  ratio: number;
  elapsedSeconds: number;
  /** Rows settled per second by the workers since the job began (rows that failed validation left out); null before any. */
  rowsPerSecond: number | null;
  /** Seconds until every row is settled at that rate; null when unknown, 0 when done. */
  etaSeconds: number | null;
}

export function jobFigures(input: {
  rows: { total: number; done: number; failed: number };
  /** Rows that failed validation: settled at creation, not by the workers. */
  invalidRows: number;
  createdAt: number;
  /** Completion time when completed, else now. */
  until: number;
}): JobFigures {
  const settled = input.rows.done + input.rows.failed;
  const total = input.rows.total;
  const elapsedSeconds = Math.max(0, (input.until - input.createdAt) / 1000);
  const worked = settled - input.invalidRows;
  const rowsPerSecond = worked > 0 && elapsedSeconds > 0 ? worked / elapsedSeconds : null;
  const remaining = total - settled;
  return {
    settled,
    total,
    ratio: total === 0 ? 1 : settled / total,
    elapsedSeconds: Math.round(elapsedSeconds * 10) / 10,
    rowsPerSecond: rowsPerSecond === null ? null : Math.round(rowsPerSecond * 10) / 10,
    etaSeconds: remaining <= 0 ? 0 : rowsPerSecond === null ? null : Math.ceil(remaining / rowsPerSecond),
  };
}
