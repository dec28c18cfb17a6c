// Location: GPS / BLE beacons / cell tower resolution, and the OpenCelliD tower table.
export {
  resolveLocation,
  rssiToDistanceM,
  distanceM,
  cellTowerIndex,
  beaconPositionIndex,
  DEFAULT_BEACON_TX_POWER,
  DEFAULT_PATH_LOSS_EXPONENT,
  DEFAULT_MAX_BEACONS,
  MIN_BLE_ACCURACY_M,
} from './resolve.ts';
export type { LocationSources, LocationModel } from './resolve.ts';
export { parseOpenCellIdCsv, readOpenCellId, towerFromCells, towersOf, OPENCELLID_COLUMNS, RADIO_TYPES } from './opencellid.ts';
export type { CellTowerRow, CellCsvIssue, OpenCellIdParse, RadioType } from './opencellid.ts';
