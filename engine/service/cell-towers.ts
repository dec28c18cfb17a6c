// The imported cell tower table in the engine: an in-memory index, reloaded when the table changes, that
// check-in location falls back to when the site declares no tower.
import type { Logger } from 'pino';
import type { CellTower, ServingCell } from '../model/index.ts';
import { cellTowerIndex } from '../location/index.ts';
import type { AlertStore } from '../store/alerts.ts';

export class CellTowerTable {
  private towerLookup: (cell: ServingCell) => CellTower | undefined = () => undefined;
  private towerVersion = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly alerts: AlertStore,
    private readonly log: Logger,
  ) {}

  /** Checks the table for changes every `intervalMs`. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.refresh().catch((error: unknown) => this.log.warn({ err: error }, 'cell tower refresh failed')), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The imported tower table (site-declared towers win in the check-in path). */
  lookup(cell: ServingCell): CellTower | undefined {
    return this.towerLookup(cell);
  }

  /** Reloads the in-memory tower index when the table changed. */
  async refresh(): Promise<void> {
    const version = await this.alerts.cellTowerVersion();
    if (version === this.towerVersion) return;
    const towers = await this.alerts.loadCellTowers();
    this.towerLookup = cellTowerIndex(towers);
    this.towerVersion = version;
  }
}
