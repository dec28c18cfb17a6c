// The HTTP adapter's public face: the Koa app over an EngineApi.
export { createHttpApp, PLAN_FORMATS } from './app.ts';
export type { EngineApi, HttpAppOptions, BearerToken, DeviceListQuery, OperatorTokenRequest, PlanFormat } from './app.ts';
export type { DeviceApi, DeviceRouteOptions } from './device-routes.ts';
export type { OperatorApi, OperatorRouteOptions } from './operator-routes.ts';
export type { HealthApi } from './health-routes.ts';
export type { DeviceRegistration, CommandRequest } from './validation.ts';
export { addAlertRoutes } from './alert-routes.ts';
export type { AlertsApi, AlertRoutesOptions } from './alert-routes.ts';
export { addProvisioningRoutes } from './provisioning-routes.ts';
export type { ProvisioningApi, ProvisioningCaller, ProvisioningRouteOptions, UploadQuery } from './provisioning-routes.ts';
export { HttpError, PayloadTooLargeError, MalformedBodyError, InvalidBodyError } from './errors.ts';
export { serveConsole, DEFAULT_CONSOLE_DIR, CONSOLE_CSP } from './console-routes.ts';
export { conditionalGet } from './conditional-get.ts';
export { addOverviewRoutes } from './overview-routes.ts';
export type { OverviewApi, Whoami, FleetSummary } from './overview-routes.ts';
